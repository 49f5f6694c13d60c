/*
  Prize, reward and loyalty-points lures: "you have won", "your points expire, redeem
  now", "take the survey and get a gift". Real loyalty mail uses some of these words,
  so each rule pairs them with what real programmes do not do: pay-only-shipping,
  repeated "attempts", a brand named by a sender that is not the brand, or a
  deadline on points the reader never collected.
*/

rule PHISH_Lure_Reward_PrizeClaim
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e50"
        description = "Prize or gift claim (you have won / selected / free gift) plus pressure to claim it now, with a link"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "spam_scam"
        tactic = "reward_lure"

    strings:
        $win1 = /you('ve| have)? (been )?(won|selected|chosen)\b/ nocase
        $win2 = /\b(our|a|the) (lucky |monthly |weekly |\w+ )?winners?\b/ nocase
        $win3 = /\b(claim|collect|receive|redeem) (your|a|the) (free )?(reward|prize|gift|voucher|coupon|bonus|cashback)/ nocase
        $win4 = /(gl(u|\xc3\xbc)ckwunsch|gratulieren|sie wurden ausgew(a|\xc3\xa4)hlt|ausgew(a|\xc3\xa4)hlt|gewinnen sie|gewinner)/ nocase
        $win5 = /(f(e|\xc3\xa9)licitations|vous avez (gagn|(e|\xc3\xa9)t(e|\xc3\xa9) s(e|\xc3\xa9)lectionn)|gagnez|bon d.achat|ch(e|\xc3\xa8)que-cadeau)/ nocase
        $win6 = /(parab(e|\xc3\xa9)ns|voc(e|\xc3\xaa) (ganhou|foi selecionad)|felicidades|ha sido seleccionad|u bent geselecteerd|gefeliciteerd)/ nocase
        $win7 = /\b(gift ?card|gutschein|geschenk|cadeau|free (gift|sample)|probierpaket|mystery ?box)\b/ nocase
        // Pressure: what a real prize never needs.
        $p1 = /(\d(st|nd|rd|th)|final|last) (attempt|notice|reminder|chance)/ nocase
        $p2 = /(expires?|expiring) (today|tonight|soon|in \d+ (hours|days))|ends? (today|tonight)/ nocase
        $p3 = /(only|just) (pay|cover) (the )?(shipping|postage|delivery)|shipping (fee|cost) (only|of)/ nocase
        $p4 = /(survey|umfrage|sondage|questionnaire|pesquisa|encuesta|enqu(e|\xc3\xaa)te)/ nocase
        $p5 = /(hurry|act now|don.t miss|open immediately|confirm (now|your (details|address|shipping))|jetzt (eintragen|teilnehmen|best(a|\xc3\xa4)tigen|einl(o|\xc3\xb6)sen))/ nocase
        $p6 = /(f(u|\xc3\xbc)r nur|pour seulement|por apenas|for (only|just)) \d{1,2}[.,]\d\d ?(\$|\xe2\x82\xac|eur|euro|usd)/ nocase
    condition:
        part_kind == "message"
        and url_count > 0
        and (
            (any of ($win*) and any of ($p1, $p2, $p3, $p5, $p6))
            // "Take the survey" alone is everyday newsletter fare; "you have been
            // selected" or a gift card bought with a survey is the scam template.
            or (($win1 or $win3 or $win7) and $p4)
        )
}

rule PHISH_Lure_Reward_PointsExpiring
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e51"
        description = "Loyalty points or cashback to redeem before they expire, naming a bank or retail programme the sender does not belong to"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "credential_phishing"
        tactic = "reward_lure"

    strings:
        $pts1 = /\b(pontos|points|punkte|puntos|milhas|miles|cashback|saldo dispon(i|\xc3\xad)vel)\b/ nocase
        $pts2 = /\b(resgat[ae]|resgatar|redeem|einl(o|\xc3\xb6)sen|canjea|expir(ar|am|em|ando|ing|e)|vencer|vencem)\b/ nocase
        $brand = /\b(livelo|bradesco|banco do brasil|ourocard|ita(u|\xc3\xba)|santander|caixa|esfera|smiles|latam pass|mercado (pago|livre)|amazon|walmart|costco|starbucks|vivo|claro|nubank)\b/ nocase
    condition:
        part_kind == "message"
        and url_count > 0
        and $pts1 and $pts2 and $brand
        // The programmes' own domains.
        and not sender_domain matches /(^|\.)(livelo|bradesco|bb|itau|santander|caixa|esfera|smiles|latampass|mercadopago|mercadolivre|amazon|walmart|costco|starbucks|vivo|claro|nubank)\.[a-z.]+$/
}

rule PHISH_Lure_Reward_FreemailBalanceCredit
{
    meta:
        id = "48a26a4a-523a-4e9c-850e-090f7dac78e3"
        description = "A credited balance (+26,649$, 'balance has been replenished') from a free-mail account, with a link to a shared file or form"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "spam_scam"
        tactic = "reward_lure"

    strings:
        // The amount the reader supposedly received, with the plus sign of a credit.
        $credit1 = /\+ ?\d{1,3}([,.]\d{3})+ ?(\$|usd|eur|\xe2\x82\xac)|\+ ?(\$|\xe2\x82\xac) ?\d{1,3}([,.]\d{3})+/ nocase
        $credit2 = /\b(balance|account) (has been|was) (replenished|credited|topped up)\b/ nocase
        // The "details" sit in a shared file or form anyone can create.
        $share = /https?:\/\/(drive|docs)\.google\.com\/(file|forms|document|drawings)\// nocase
    condition:
        part_kind == "message"
        // No bank or payout service credits an account from a gmail.com address.
        and sender_freemail
        and any of ($credit*)
        and $share
}
