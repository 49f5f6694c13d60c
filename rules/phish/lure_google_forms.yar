/*
  Lures sent through Google's own notification mail (Forms "score released",
  Drive/Docs shares and comments, collections): the mail really comes from google.com,
  so every sender check passes. The attacker controls only the title and the comment
  text, and puts the lure there: a money amount, a crypto balance, a "withdraw" call.
*/

rule PHISH_Lure_GoogleNotification_MoneyTitle
{
    meta:
        id = "e5f3ad68-c945-4afb-8029-d5ee31dd0f35"
        description = "Google Forms/Docs/Drive notification whose attacker-chosen title or comment promises money or crypto (amount with currency, payout, withdrawal)"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "spam_scam"
        tactic = "legitimate_service_abuse"

    strings:
        $bounce = /@[a-z0-9.-]*bounces\.google\.com/ nocase
        $svc = /(docs\.google\.com\/(forms|document|spreadsheets|drawings|presentation)|google forms|forms\.gle)/ nocase
        // Money in what the attacker typed: "+$189", "0.85 BTC", "USD 3,500", "$ 1,000".
        $money1 = /[+]\s?(\$|\xe2\x82\xac|usd|eur)\s?\d{2,}/ nocase
        $money2 = /\b\d+([.,]\d+)? ?(btc|eth|usdt|bitcoin)\b/ nocase
        $money3 = /\b(withdraw(al)?|payout|transfer) (of )?(your )?(funds|balance|earnings|bonus|reward)|(your|the) (balance|earnings|payout|reward) (is|has been) (ready|credited|released|available|waiting)/ nocase
        $money4 = /\b(score released|you have (received|been awarded)|has been credited)\b[^\n]{0,60}(\$|\xe2\x82\xac|usd|eur|btc|\xf0\x9f\x92[\xb0-\xb8])/ nocase
    condition:
        part_kind == "message"
        // The notification really is Google's (From: google.com, or the form owner's
        // address with Google's bounce path): this rule is about what is inside it.
        and (sender_domain matches /(^|\.)google\.com$/ or $bounce)
        and $svc
        and any of ($money*)
}
