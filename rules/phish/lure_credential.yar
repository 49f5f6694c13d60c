/*
  Credential-harvest lures: account-security wording that pushes the reader to a link.
  Real security notices use the same words, so every rule here needs a second signal
  that real notices do not have: a brand named while the sender is not that brand,
  a deadline threat, or disguised words.
*/

rule PHISH_Lure_Credential_BrandedSecurityNotice
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e10"
        description = "Account-security wording naming an account provider, with a link, from a domain that is not the provider's"
        severity = "high"
        action = "remediate"
        status = "stable"
        attack_type = "credential_phishing"
        tactic = "impersonation"

    strings:
        // Providers whose accounts are worth stealing; the body says whose account it is.
        $brand1 = /\b(microsoft|office ?365|outlook|onedrive|sharepoint)\b/ nocase
        $brand2 = /\b(paypal|apple ?id|icloud|netflix|facebook|instagram|docusign|amazon)\b/ nocase
        $brand3 = /\b(coinbase|binance|metamask|trust ?wallet|ledger live|exodus|proton ?mail)\b/ nocase
        // Security-event wording: what makes the reader act now.
        $s1 = /unusual (sign[ .-]?in|login|log-in|activity)/ nocase
        $s2 = /suspicious (sign[ .-]?in|login|activity)/ nocase
        $s3 = /(account|wallet|mailbox) (has been|was|is|will be) (temporarily )?(suspended|locked|restricted|disabled|limited|deactivated|blocked|closed|terminated)/ nocase
        $s4 = /(verify|confirm|validate|update|unlock|secure|restore) your (account|identity|wallet|mailbox|password|payment|billing|e-?mail)/ nocase
        $s5 = /password (will expire|expires|has expired|is expiring)/ nocase
        $s6 = /(someone|somebody) (tried|attempted) to (log|sign)/ nocase
        $s7 = /(mailbox|storage|icloud) (is )?(almost )?full/ nocase
    condition:
        part_kind == "message"
        and url_count > 0
        and any of ($brand*)
        and any of ($s*)
        // The provider's own notices come from its own domains.
        and not sender_domain matches /(^|\.)(microsoft|office|office365|outlook|live|onedrive|sharepointonline|sharepoint|microsoftonline|paypal|apple|icloud|netflix|facebook|facebookmail|instagram|docusign|amazon|coinbase|binance|metamask|ledger|exodus|proton|protonmail)\.[a-z.]+$/
}

rule PHISH_Lure_Credential_SuspensionDeadline
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e11"
        description = "Account suspension or verification demand combined with a deadline threat and a link"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "credential_phishing"
        tactic = "urgency"

    strings:
        $acct1 = /(account|wallet|mailbox|access) (has been|was|is|will be) (temporarily |permanently )?(suspended|locked|restricted|disabled|limited|deactivated|blocked|closed|terminated|deleted)/ nocase
        $acct2 = /(verify|confirm|validate|unlock|reactivate|restore) your (account|identity|wallet|mailbox|access)/ nocase
        $acct3 = /(conta|cart(a|\xc3\xa3)o) (foi |ser(a|\xc3\xa1) )?(bloquead|suspens|desativad)/ nocase
        $acct4 = /konto (wurde |wird )?(gesperrt|eingeschr(a|\xc3\xa4)nkt|deaktiviert)/ nocase
        $acct5 = /compte (a (e|\xc3\xa9)t(e|\xc3\xa9) |sera )?(suspendu|bloqu(e|\xc3\xa9)|d(e|\xc3\xa9)sactiv(e|\xc3\xa9))/ nocase
        $acct6 = /cuenta (ha sido |ser(a|\xc3\xa1) )?(suspendida|bloqueada|desactivada)/ nocase
        // The threat that stops the reader from checking first.
        $dl1 = /within (24|48|72|twenty[- ]four|forty[- ]eight) ?(hours|hrs|h)\b/ nocase
        $dl2 = /(failure|fail) to (verify|confirm|update|comply|respond)/ nocase
        $dl3 = /(will be|be) (permanently )?(deleted|terminated|suspended|closed|lost)/ nocase
        $dl4 = /(immediate(ly)?|urgent(ly)?) (action|verification|attention) (is )?required/ nocase
        $dl5 = /(last|final) (warning|notice|reminder)/ nocase
        $dl6 = /(em|dentro de) (24|48) horas|innerhalb von (24|48) stunden|sous (24|48) ?h/ nocase
    condition:
        part_kind == "message"
        and url_count > 0
        and any of ($acct*)
        and any of ($dl*)
}
