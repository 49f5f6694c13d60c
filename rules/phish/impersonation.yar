/*
  Brand impersonation: the name a reader sees says one company, the address says
  another. Real notifications from these brands come from the brand's own domains;
  lures put the brand in the display name and send from anything else.
*/

rule PHISH_Impersonation_Brand_DisplayNameMismatch
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e01"
        description = "Display name names a well-known brand while the From domain is not one of that brand's domains"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "credential_phishing"
        tactic = "impersonation"
        author = "trawler"
        date = "2024-06-01"

    condition:
        part_kind == "message"
        and sender_domain != ""
        // Each clause: the brand as a word in the display name (what the reader trusts),
        // and the sender domain is none of that brand's own domains (what the reader
        // does not check). Brands whose names are common words or first names (chase,
        // target, apple alone) are left out: they would hit people, not lures.
        and (
            (display_name matches /\b(microsoft|office ?365|outlook|onedrive|sharepoint)\b/
                and not sender_domain matches /(^|\.)(microsoft|office|office365|outlook|live|onedrive|sharepointonline|sharepoint|microsoftonline|skype|yammer)\.(com|net)$/)
            or (display_name matches /\bpay ?pal\b/
                and not sender_domain matches /(^|\.)paypal\.[a-z.]+$/)
            or (display_name matches /\b(apple ?id|apple support|icloud|itunes)\b/
                and not sender_domain matches /(^|\.)(apple|icloud|itunes)\.com$/)
            or (display_name matches /\b(amazon|prime('s)? video)\b/
                and not sender_domain matches /(^|\.)(amazon|primevideo)\.[a-z.]+$/)
            or (display_name matches /\bnetflix\b/
                and not sender_domain matches /(^|\.)netflix\.com$/)
            or (display_name matches /\b(facebook|instagram|whatsapp)\b/
                and not sender_domain matches /(^|\.)(facebook|facebookmail|instagram|whatsapp|meta)\.com$/)
            or (display_name matches /\bdocu ?sign\b/
                and not sender_domain matches /(^|\.)docusign\.(com|net)$/)
            or (display_name matches /\b(dhl|fedex|usps)\b/
                and not sender_domain matches /(^|\.)(dhl|fedex|usps)\.[a-z.]+$/)
            or (display_name matches /\b(coinbase|binance|metamask|trust ?wallet|ledger|opensea|uniswap|pancakeswap|kraken|exodus|ripple|ethereum)\b/
                and not sender_domain matches /(^|\.)(coinbase|binance|metamask|trustwallet|ledger|opensea|uniswap|pancakeswap|kraken|exodus|ripple|ethereum)\.[a-z.]+$/)
            or (display_name matches /\b(bradesco|banco do brasil|ita(u|\xc3\xba)|santander|caixa|nubank|livelo|mercado ?pago|mercado ?livre|ourocard)\b/
                and not sender_domain matches /(^|\.)(bradesco|bb|itau|santander|caixa|nubank|livelo|mercadopago|mercadolivre|mercadolibre)\.[a-z.]+$/)
            or (display_name matches /\b(wells ?fargo|bank of america|citibank|hsbc|barclays)\b/
                and not sender_domain matches /(^|\.)(wellsfargo|bankofamerica|bofa|citi|citibank|hsbc|barclays)\.[a-z.]+$/)
            or (display_name matches /\b(walmart|costco|sam'?s club|t-mobile|verizon|aarp|state farm|starbucks|lowe'?s|home depot|kohl'?s|temu|shein)\b/
                and not sender_domain matches /(^|\.)(walmart|costco|samsclub|t-mobile|verizon|aarp|statefarm|starbucks|lowes|homedepot|kohls|temu|temuemail|shein|sheinemail)\.[a-z.]+$/)
            or (display_name matches /\b(decathlon|lidl|aldi|edeka|rossmann|leclerc|nespresso|leroy merlin|mediamarkt|fressnapf|telekom)\b/
                and not sender_domain matches /(^|\.)(decathlon|lidl|aldi|aldi-nord|aldi-sued|edeka|rossmann|leclerc|e-leclerc|nespresso|leroymerlin|mediamarkt|fressnapf|telekom)\.[a-z.]+$/)
            or (display_name matches /\b(norton|mcafee|geek ?squad|proton ?mail|proton\.me|dropbox|wetransfer|adobe)\b/
                and not sender_domain matches /(^|\.)(norton|nortonlifelock|mcafee|geeksquad|bestbuy|proton|protonmail|dropbox|dropboxmail|wetransfer|adobe)\.[a-z.]+$/)
        )
}

rule PHISH_Impersonation_DisplayName_ForeignAddress
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e02"
        description = "Display name is itself an e-mail address at a domain other than the real sender's (service@paypal.com <x@elsewhere>)"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "credential_phishing"
        tactic = "impersonation"

    condition:
        part_kind == "message"
        and sender_domain != ""
        // Clients show the display name, so an address there is what the reader
        // believes; the real address is somewhere else.
        and display_name matches /[a-z0-9._%+-]@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}/
        and not (display_name contains sender_domain)
        // Mailing lists and Google Groups rewrite From as "'a@b.com' via List".
        and not display_name matches /\bvia\b/
}

rule PHISH_Impersonation_Brand_SubjectAccountNotice
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e03"
        description = "Subject names a consumer brand together with account, membership, billing or order-problem wording, sent from outside that brand"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "credential_phishing"
        tactic = "impersonation"

    condition:
        part_kind == "message"
        and sender_domain != ""
        and subject matches /\b(amazon|netflix|paypal|apple ?id|icloud|microsoft|office ?365|outlook|facebook|instagram|coinbase|binance|metamask|trust ?wallet|ledger|norton|mcafee|geek ?squad|dhl|fedex|usps|correios|bradesco|ita(u|\xc3\xba)|santander|banco do brasil)\b/
        and subject matches /(account|membership|subscription|billing|payment|order|renewal|suspen|lock|restrict|verif|confirm|unusual|security|refund|cashback|declin|fail|expire|blocked|bloque|desbloque)/
        and not sender_domain matches /(^|\.)(amazon|primevideo|netflix|paypal|apple|icloud|microsoft|office|outlook|facebook|facebookmail|instagram|meta|coinbase|binance|metamask|trustwallet|ledger|norton|nortonlifelock|mcafee|geeksquad|bestbuy|dhl|fedex|ups|usps|correios|bradesco|itau|santander|bb)\.[a-z.]+$/
}

rule PHISH_Impersonation_DisplayName_CelebrityOrProtocolCode
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e04"
        description = "Display name borrows a celebrity investor's name, or dresses up as a bank notice with a long protocol/case number"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "spam_scam"
        tactic = "impersonation"

    condition:
        part_kind == "message"
        and (
            // Investment and giveaway scams trade on these names; the people themselves
            // do not write to strangers.
            display_name matches /\b(elon musk|musk|warren buffett|buffett|jeff bezos|bill gates|bernard arnault|mark zuckerberg|mr\.? ?(elon|warren|bill))\b/
            // "Protocolo: 68836061075995248602", "Comunicado: 59439491563": a random
            // number in the sender's name defeats sender reputation; real senders
            // keep one stable name.
            or display_name matches /(protocolo|protocol|c(o|\xc3\xb3)digo|cod\.|comunicado|notifica|emitida|ref\.?|case)[^0-9]{0,6}[0-9]{8,}/
            or display_name matches /\s-\s[0-9]{10,}\s*$/
        )
}

rule PHISH_Impersonation_DisplayName_RoleOnFreemail
{
    meta:
        id = "87d96eb6-0504-456b-a937-6160b759e5c6"
        description = "Display name is a company role or desk (customer service, billing, security team, support, 'Your Order #') while the address is a free-mail account"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "credential_phishing"
        tactic = "impersonation"

    condition:
        part_kind == "message"
        // A person writes from gmail.com under their own name; a desk that bills,
        // secures accounts or answers customers writes from its company's domain.
        and sender_freemail
        and display_name matches /(customer (service|care|support)|support team|help ?desk|service desk|billing|bill[ _]desk|accounts? (team|services|department)|security (team|department|alert|center|centre)|notifica(tion|\xc3\xa7\xc3\xa3o)|no-?reply|administrator|webmaster|mail ?delivery|postmaster|it (department|support|help ?desk)|central de atendimento|suporte|your order|order ?#|payment (department|team|center)|verification (team|department|center)|compliance (team|department)|fraud (team|department|prevention))/
}

rule PHISH_Impersonation_Tenant_LureOnSharedServiceDomain
{
    meta:
        id = "0c3b9f57-2d7e-4f0e-8f3a-6a1d4c9e2b31"
        description = "A crypto or brand name in the display name, account or claim pressure in the subject, sent from a throwaway tenant of a shared service (*.onmicrosoft.com, *.zendesk.com, *.freshdesk.com)"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "credential_phishing"
        tactic = "impersonation"

    condition:
        part_kind == "message"
        // Anyone can open a Microsoft 365 trial or a help-desk tenant in minutes and
        // send from it with valid SPF/DKIM; companies send from their own domain.
        and sender_domain matches /\.(onmicrosoft\.com|zendesk\.com|freshdesk\.com|zohodesk\.com)$/
        // The name borrows a wallet, exchange or brand...
        and display_name matches /(airdrop|wallet|trust ?wal|metamask|ledger|coinbase|binance|crypto|token|nft|uni(swap)?\b|paypal|microsoft|office ?365|outlook|apple|icloud|amazon|netflix|docusign|dhl|fedex|usps|bank)/
        // ...and the subject presses for a claim or an account check. A real help-desk
        // reply is about the reader's own ticket.
        and subject matches /(claim|airdrop|verif|suspen|urgent|unusual|locked|restrict|disabled|reward|bonus|expire)/
}

rule PHISH_Impersonation_QuotedHeader_BrandForeignAddress
{
    meta:
        id = "4e7f2a90-93c1-4b7b-a0f5-2c5d8e1f6a42"
        description = "A forwarded or quoted message whose quoted From line shows a brand or government name with an address outside that brand's domains"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "credential_phishing"
        tactic = "impersonation"

    strings:
        // Quoted From lines as mail clients write them in forwards and replies:
        // "From:/De:/Von:/Van:/Da: <brand ...> <address>", plain or HTML (the colon may
        // close a <b>, < may be &lt;). The display name must START with the brand, so
        // "John Norton" is a person. Per brand, $q counts quoted From lines naming it and
        // $own those whose address has the brand inside its domain (generous on purpose:
        // ESP and country domains such as dhlparcel.co.uk count as own). More of the
        // first means one came from elsewhere. People forward real brand mail: that is $own.
        $q_sec = /(From|De|Von|Van|Da):(<\/[a-z]{1,4}>)?[ \t*]{1,4}"?\[?(McAfee|Norton|Geek ?Squad|Avast)\b[^\r\n<&@]{0,80}(<|&lt;)[a-z0-9._%+-]{1,64}@[a-z0-9.-]{1,80}/ nocase
        $own_sec = /(From|De|Von|Van|Da):(<\/[a-z]{1,4}>)?[ \t*]{1,4}"?\[?(McAfee|Norton|Geek ?Squad|Avast)\b[^\r\n<&@]{0,80}(<|&lt;)[a-z0-9._%+-]{1,64}@([a-z0-9-]{1,40}\.)*[a-z0-9-]{0,20}(mcafee|norton|nortonlifelock|geeksquad|bestbuy|avast)[a-z0-9-]{0,20}\.[a-z.]{2,10}/ nocase
        $q_ms = /(From|De|Von|Van|Da):(<\/[a-z]{1,4}>)?[ \t*]{1,4}"?\[?(Microsoft|Office ?365|OneDrive|SharePoint)\b[^\r\n<&@]{0,80}(<|&lt;)[a-z0-9._%+-]{1,64}@[a-z0-9.-]{1,80}/ nocase
        $own_ms = /(From|De|Von|Van|Da):(<\/[a-z]{1,4}>)?[ \t*]{1,4}"?\[?(Microsoft|Office ?365|OneDrive|SharePoint)\b[^\r\n<&@]{0,80}(<|&lt;)[a-z0-9._%+-]{1,64}@([a-z0-9-]{1,40}\.)*[a-z0-9-]{0,20}(microsoft|office|outlook|live|onedrive|sharepoint|microsoftonline)[a-z0-9-]{0,20}\.[a-z.]{2,10}/ nocase
        // Exchange writes its own notices (NDRs, test messages) as "Microsoft Outlook"
        // from the organisation's MicrosoftExchange<hex> or postmaster mailbox.
        $fp_ms = /(From|De|Von|Van|Da):(<\/[a-z]{1,4}>)?[ \t*]{1,4}"?Microsoft Outlook[^\r\n<&@]{0,20}(<|&lt;)(MicrosoftExchange[0-9a-f]{32}|postmaster)@/ nocase
        $q_pay = /(From|De|Von|Van|Da):(<\/[a-z]{1,4}>)?[ \t*]{1,4}"?\[?(PayPal|Amazon|Prime Video|Netflix|Apple ?ID|Apple Support|iCloud|Facebook|FB-support|Instagram|DocuSign)\b[^\r\n<&@]{0,80}(<|&lt;)[a-z0-9._%+-]{1,64}@[a-z0-9.-]{1,80}/ nocase
        $own_pay = /(From|De|Von|Van|Da):(<\/[a-z]{1,4}>)?[ \t*]{1,4}"?\[?(PayPal|Amazon|Prime Video|Netflix|Apple ?ID|Apple Support|iCloud|Facebook|FB-support|Instagram|DocuSign)\b[^\r\n<&@]{0,80}(<|&lt;)[a-z0-9._%+-]{1,64}@([a-z0-9-]{1,40}\.)*[a-z0-9-]{0,20}(paypal|amazon|primevideo|netflix|apple|icloud|facebook|facebookmail|instagram|meta|docusign)[a-z0-9-]{0,20}\.[a-z.]{2,10}/ nocase
        $q_ship = /(From|De|Von|Van|Da):(<\/[a-z]{1,4}>)?[ \t*]{1,4}"?\[?(DHL|FedEx|USPS|Correios|Currys)\b[^\r\n<&@]{0,80}(<|&lt;)[a-z0-9._%+-]{1,64}@[a-z0-9.-]{1,80}/ nocase
        $own_ship = /(From|De|Von|Van|Da):(<\/[a-z]{1,4}>)?[ \t*]{1,4}"?\[?(DHL|FedEx|USPS|Correios|Currys)\b[^\r\n<&@]{0,80}(<|&lt;)[a-z0-9._%+-]{1,64}@([a-z0-9-]{1,40}\.)*[a-z0-9-]{0,20}(dhl|fedex|usps|correios|currys)[a-z0-9-]{0,20}\.[a-z.]{2,10}/ nocase
        // Tax and government names on someone else's address ("[GovBR] Receita Federal").
        $q_gov = /(From|De|Von|Van|Da):(<\/[a-z]{1,4}>)?[ \t*]{1,4}"?\[?(GovBR|gov\.br|Receita Federal|Minist(e|\xc3\xa9)rio da Fazenda|IRS|HMRC)\b[^\r\n<&@]{0,80}(<|&lt;)[a-z0-9._%+-]{1,64}@[a-z0-9.-]{1,80}/ nocase
        $own_gov = /(From|De|Von|Van|Da):(<\/[a-z]{1,4}>)?[ \t*]{1,4}"?\[?(GovBR|gov\.br|Receita Federal|Minist(e|\xc3\xa9)rio da Fazenda|IRS|HMRC)\b[^\r\n<&@]{0,80}(<|&lt;)[a-z0-9._%+-]{1,64}@([a-z0-9-]{1,40}\.)*[a-z0-9-]{0,20}(gov|irs|hmrc|receita|fazenda)[a-z0-9-]{0,20}\.[a-z.]{2,10}/ nocase
    condition:
        part_kind == "message"
        and (#q_sec > #own_sec or #q_ms > #own_ms + #fp_ms or #q_pay > #own_pay
             or #q_ship > #own_ship or #q_gov > #own_gov)
}
