/*
  PDF lures: the message says little and the PDF carries the link. A PDF is trusted
  more than a link, and many filters do not follow links inside attachments.
*/

rule PHISH_Attach_PDF_LinkToAnonymousHosting
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e60"
        description = "PDF attachment whose clickable link goes to anonymous cloud hosting (static website buckets, Cloud Run/Functions, Pages, IPFS)"
        severity = "high"
        action = "remediate"
        status = "stable"
        attack_type = "credential_phishing"
        tactic = "attachment_link"

    strings:
        $pdf = "%PDF-"
        $uri1 = /\/URI\s*\(\s*https?:\/\/[a-z0-9-]+\.z\d+\.web\.core\.windows\.net/ nocase
        $uri2 = /\/URI\s*\(\s*https?:\/\/(storage\.googleapis\.com|[a-z0-9-]+\.blob\.core\.windows\.net|[a-z0-9.-]*\.cloudfunctions\.net|[a-z0-9-]+\.(a\.)?run\.app)/ nocase
        $uri3 = /\/URI\s*\(\s*https?:\/\/[a-z0-9-]+\.(web\.app|firebaseapp\.com|r2\.dev|pages\.dev|workers\.dev|glitch\.me|netlify\.app|vercel\.app|ngrok-free\.app|trycloudflare\.com)/ nocase
        $uri4 = /\/URI\s*\(\s*https?:\/\/[^)]{0,80}(ipfs\.|\/ipfs\/)/ nocase
    condition:
        part_kind == "attachment"
        and $pdf at 0
        and filesize < 5MB
        and any of ($uri*)
}

rule PHISH_Attach_PDF_LureFilename
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e61"
        description = "PDF attachment named like a crypto-balance, tax-refund, blocked-account or brand case document, from a sender that is not the brand"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "credential_phishing"
        tactic = "attachment_lure"

    strings:
        $pdf = "%PDF-"
    condition:
        part_kind == "attachment"
        and $pdf at 0
        // Names a reader opens out of greed or fear; invoices and statements are left
        // out because real vendors name their PDFs that way.
        and (filename matches /(btc|bitcoin|balance|withdraw|blocked|burn.?out|replenish|mining)/
             or filename matches /(^|[^a-z])(amz|amazon|prime|paypal|pp|irs|lrs|irpf)([^a-z]|$)/
             or filename matches /(valores.a.receber|casereport|case.?report|suspen|locked|unauthori[sz]ed|action.?required|documentaction)/)
        and not sender_domain matches /(^|\.)(amazon|paypal|irs|receita|gov)\.[a-z.]+$|\.gov(\.[a-z]{2})?$/
}

rule PHISH_Attach_PDF_FreemailLinkToThrowaway
{
    meta:
        id = "b2788fbe-98f1-4da4-8b07-a469e82c4ac1"
        description = "PDF from a free-mail sender whose clickable link goes to a URL shortener, a Google Drawings preview or a throwaway-TLD host"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "credential_phishing"
        tactic = "attachment_link"

    strings:
        $pdf = "%PDF-"
        // A drawing shown as a "preview" is a one-image landing page with a button.
        $uri1 = /\/URI\s*\(\s*https?:\/\/docs\.google\.com\/drawings\// nocase
        // Shorteners hide the destination; a person's PDF has no reason to.
        $uri2 = /\/URI\s*\(\s*https?:\/\/(bit\.ly|is\.gd|tinyurl\.com|cutt\.ly|t\.ly|rb\.gy|shorturl\.at|q-r\.to|v\.gd|s\.id|ow\.ly|rebrand\.ly)\// nocase
        // Cheap TLDs registered by the thousand for landing pages.
        $uri3 = /\/URI\s*\(\s*https?:\/\/[a-z0-9.-]+\.(space|xyz|top|click|icu|online|site|buzz|cfd|sbs|rest)[\/)?]/ nocase
    condition:
        part_kind == "attachment"
        and $pdf at 0
        and filesize < 5MB
        // Companies send PDFs from their own domain; a lure PDF comes from a
        // throwaway gmail/outlook/icloud account.
        and sender_freemail
        and any of ($uri*)
}
