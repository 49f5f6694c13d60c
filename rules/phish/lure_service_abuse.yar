/*
  Lures delivered through someone else's service: a live-chat transcript that the
  attacker sent to the victim by typing the victim's address as the visitor's, or a
  fake "file card" in the body standing in for a document that is not attached.
*/

rule PHISH_Lure_ChatTranscript_MoneyLink
{
    meta:
        id = "6c9d2e14-3b7a-4f58-8e01-5a2f7c4b9d64"
        description = "Live-chat transcript (Zoho SalesIQ, tawk.to, LiveChat) whose chat text pushes free crypto or quick money behind a form or chat link"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "spam_scam"
        tactic = "service_abuse"

    strings:
        $t = /chat transcript|transcript of the chat/ nocase
        // Where the chat sends the reader: form builders and chat apps, not the shop.
        $link = /(forms\.yandex\.[a-z]{2,3}|forms\.gle|docs\.google\.com\/forms|telegra\.ph|t\.me\/|wa\.me\/)/ nocase
        $money = /(free (btc|bitcoin|usdt|eth|crypto)|accept your free|online work|first payment within|earn \$?\d|payment within \d+ minutes|withdraw your (btc|bitcoin|funds))/ nocase
    condition:
        part_kind == "message"
        // Transcripts go to the site owner about their own visitors; one that reaches a
        // stranger carrying a money pitch was aimed at them.
        and sender_domain matches /(^|\.)(zohosalesiq\.com|tawk\.to|livechatinc\.com|livechat\.com)$/
        and $t and $link and $money
}

rule PHISH_Lure_Document_FakeFileCard
{
    meta:
        id = "b3f7a0d2-9e64-4c1b-a5d8-1c2e6f4b8a75"
        description = "Body imitates an attachment card (File Size: 456kb, File Format PDF) with a link, while nothing is attached and the sender is no file-sharing service"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "credential_phishing"
        tactic = "business_lure"

    strings:
        $size = /(file size|tamanho do arquivo|dateigr(o|\xc3\xb6)(ss|\xc3\x9f)e|taille du fichier)\s*:?\s*\d+([.,]\d+)?\s*(kb|mb)/ nocase
        $fmt = /(file format|file type|formato do arquivo|tipo de arquivo|dateiformat)\s*:?\s*\[?\s*(pdf|docx?|xlsx?)/ nocase
    condition:
        part_kind == "message"
        and url_count > 0
        and attachment_count == 0
        and $size and $fmt
        and not sender_domain matches /(^|\.)(sharepointonline|sharepoint|microsoft|onedrive|docusign|dropbox|dropboxmail|wetransfer|google|box|adobe)\.(com|net)$/
}

rule PHISH_Lure_Delivery_ReturnThreatFee
{
    meta:
        id = "e5d2b8c6-1f4a-4a97-8b3e-6d0c9a2f5e86"
        description = "Parcel will be sent back unless the reader acts within hours, and fees will be lost or must be paid; sender is not a carrier"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "credential_phishing"
        tactic = "delivery_lure"

    strings:
        $ret = /(package|parcel|shipment)[^.<]{0,80}(will be|has been|is being) (sent|returned) back|(returned|sent back) to (the )?sender/ nocase
        $dl = /(within|in the next) (12|24|48|72) hours/ nocase
        // Real carriers re-deliver or hold at a depot; the lure threatens lost fees or
        // asks for a small one (the card number is the point).
        $fee = /((shipping|handling|redelivery|customs|delivery) (and handling )?(fees?|costs?) (will not|won.t|cannot) be refunded|pay (a|the) (small )?(redelivery|re-delivery|shipping|customs) fee)/ nocase
    condition:
        part_kind == "message"
        and url_count > 0
        and $ret and $dl and $fee
        and not sender_domain matches /(^|\.)(ups|dhl|fedex|usps|royalmail|dpd|gls-group|postnl|correios|canadapost|auspost|laposte|hermesworld|evri|parcelforce|bpost)\.[a-z.]+$/
}
