/*
  Legal-notice lures: a court summons or a police charge sheet, sent by someone who is
  not a court or the police. Brazilian courts write from *.jus.br; police forces do not
  e-mail charges with replies going to a private mailbox.
*/

rule PHISH_Lure_Legal_CourtSummonsOutsideJudiciary
{
    meta:
        id = "2f6b8d31-7a4c-4e59-b1d2-93c0e5a7f812"
        description = "Sender calls itself a court summons or notice (INTIMACAO, CITACAO, MANDADO) from a domain outside the Brazilian judiciary and government"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "credential_phishing"
        tactic = "impersonation"

    condition:
        part_kind == "message"
        and sender_domain != ""
        // The display name is a document type, not a person or a firm: "INTIMACAO 991122".
        // Law firms writing about a case sign with the firm's name.
        and display_name matches /^[^a-z0-9]{0,4}(intima(c|\xc3\xa7)(a|\xc3\xa3)o|cita(c|\xc3\xa7)(a|\xc3\xa3)o|mandado|notifica(c|\xc3\xa7)(a|\xc3\xa3)o (judicial|extrajudicial))\b/
        // Courts, prosecutors and public defenders send from these suffixes.
        and not sender_domain matches /\.(jus|gov|mp|def|leg)\.br$/
}

rule PHISH_Lure_Legal_PoliceChargeReplyElsewhere
{
    meta:
        id = "8a1e5c47-0d3b-4f26-9e8a-4b7c2d6f9013"
        description = "Subject or sender name speaks as police or a prosecutor (charge sheet, summons, youth protection, BKA/Europol) while replies go to another domain or free mail"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "extortion"
        tactic = "impersonation"

    condition:
        part_kind == "message"
        and (subject matches /(anklage(schrift|schreiben)?|vorladung|strafverfahren|strafanzeige|convocation (judiciaire|police)|citation (a|\xc3\xa0) compara(i|\xc3\xae)tre|court summons|criminal (charges?|complaint)|dagvaarding)/
             or display_name matches /(jugendschutz|bundeskriminalamt|\bbka\b|europol|interpol|gendarmerie|brigade des mineurs|police judiciaire|cybercrime unit|kinderschutz)/)
        // A police force answers from its own domain; the charge sheet that wants the
        // reply at inbox.eu or gmail.com wants a "fine" paid.
        and (sender_freemail or reply_to_freemail
             or (reply_to_domain != "" and not reply_to_domain contains sender_domain
                 and not sender_domain contains reply_to_domain))
}
