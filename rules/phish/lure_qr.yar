/*
  QR-code lures ("quishing"): the link is a picture so URL scanners and the reader's
  desktop browser never see it; the phone that scans it has no protection.
*/

rule PHISH_Lure_QRCode_ScanToAct
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e90"
        description = "Message asks the reader to scan a QR code to sign in, verify, re-authenticate or read a document, and offers no ordinary link"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "credential_phishing"
        tactic = "qr_code"

    strings:
        $qr1 = /scan (the |this |below |attached )?(qr|barcode|code)/ nocase
        $qr2 = /qr[- ]?code (below|attached|above)/ nocase
        $qr3 = /(use|with|open) (your )?(phone|mobile|smartphone|camera)('s)? (camera )?to (scan|access|review|sign|verify)/ nocase
        $act = /(sign[- ]?in|log[- ]?in|verify|re-?authenticat|authenticat|multi-?factor|mfa|2fa|password|account|shared (a )?document|review (the )?document|secure message|voicemail|payroll|benefits)/ nocase
    condition:
        part_kind == "message"
        and any of ($qr*)
        and $act
        // Real QR use (boarding passes, event tickets, MFA enrolment pages) sits in
        // mail full of ordinary links; a lure has nothing to click but the picture.
        and url_count <= 2
}
