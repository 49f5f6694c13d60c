/*
  Business-document lures: an invoice to pay, a payment to confirm, a voicemail to
  hear, a document shared with you. Real ones come from the vendor's or the sharing
  service's own domain and link there; lures borrow the service's name and link out.
*/

rule PHISH_Lure_Document_SharedByService
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e91"
        description = "Shared-document, e-signature or voicemail notification wording naming a service (SharePoint, OneDrive, DocuSign, Dropbox, Adobe Sign) from a sender outside that service"
        severity = "high"
        action = "remediate"
        status = "stable"
        attack_type = "credential_phishing"
        tactic = "impersonation"

    strings:
        $svc = /\b(sharepoint|onedrive|docusign|docu ?sign|dropbox|adobe (sign|acrobat|document cloud)|wetransfer|google (drive|docs)|box\.com|office ?365|microsoft 365)\b/ nocase
        $n1 = /(shared|sent) (a |an |the )?(file|document|folder|fax|pdf|invoice|contract|agreement)s? with you/ nocase
        $n2 = /(review|view|open|sign|access) (and sign )?(the |this |your )?(shared |secure |encrypted |pending )?(document|file|agreement|contract|fax)s?\b/ nocase
        $n3 = /(new|pending|unheard|missed) (voice ?mail|voice message|fax)/ nocase
        $n4 = /(document|file|envelope|fax) (is )?(ready|waiting|pending) (for|to)/ nocase
        $n5 = /(please )?(complete|review)( and sign)? (with|via|using) (docusign|adobe sign)/ nocase
    condition:
        part_kind == "message"
        and url_count > 0
        and $svc
        and any of ($n*)
        // The services' own notification domains (and Google's, which sends Drive shares).
        and not sender_domain matches /(^|\.)(sharepointonline|sharepoint|microsoft|office|office365|onedrive|docusign|dropbox|dropboxmail|adobe|adobesign|echosign|wetransfer|google|box)\.(com|net)$/
}

rule PHISH_Lure_Payment_InvoiceExternalLink
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e92"
        description = "Invoice, overdue-payment or remittance wording with a link to a download or file-sharing host instead of an attached invoice"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "credential_phishing"
        tactic = "business_lure"

    strings:
        $inv = /\b(invoice|remittance|payment advice|proof of payment|purchase order|overdue (payment|invoice)|outstanding (balance|invoice)|wire transfer|fatura|boleto|rechnung|facture)\b/ nocase
        // Where the "invoice" is: anonymous file hosts and form builders, not the vendor.
        $host = /href\s*=\s*["']?https?:\/\/([a-z0-9-]+\.)*(drive\.google\.com|docs\.google\.com\/(forms|presentation|drawings)|forms\.gle|1drv\.ms|onedrive\.live\.com|dropbox\.com\/s|we\.tl|wetransfer\.com|mega\.nz|mediafire\.com|sendspace\.com|filetransfer\.io|jotform\.com|forms\.office\.com|forms\.yandex\.[a-z]+|typeform\.com|canva\.com\/design|notion\.site|sway\.office\.com|sway\.cloud\.microsoft|storage\.googleapis\.com|[a-z0-9-]+\.z\d+\.web\.core\.windows\.net)/ nocase
    condition:
        part_kind == "message"
        and $inv and $host
        and attachment_count == 0
}
