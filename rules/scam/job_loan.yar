/*
  Money-mule jobs and no-questions loans: easy weekly pay for "part-time" work from
  home, or a loan at a tiny rate for blacklisted borrowers, offered from a free-mail
  account or for a role that only exists to move goods or money.
*/

rule SCAM_Lure_Job_EasyMoneyWorkFromHome
{
    meta:
        id = "3d7b1e96-8f2a-4c05-a4e9-5c6f0b2d8e17"
        description = "Part-time or work-from-home job promising hundreds or thousands per week or month, from free mail or for a personal-assistant / mystery-shopper / payment-agent role"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "employment_scam"
        tactic = "social_engineering"

    strings:
        // "$800/week", "Earn $1000-$2000 per month": three-digit pay or more, per period.
        $pay = /\b(earn|salary of|pays?|paying|make|making) (up to )?(\$|usd ?|\xe2\x82\xac|\xc2\xa3) ?\d[\d,]{2,6}(\s*(-|to)\s*(\$|\xe2\x82\xac|\xc2\xa3)? ?\d[\d,]{2,6})?\s*(\/|per|a|each)\s*(week|month|day)\b/ nocase
        $job = /\b(part[- ]time|home[- ]based|work(ing)? from home|working per time|not your regular|flexible hours)\b/ nocase
        // Roles that exist to receive parcels or payments for someone else.
        $mule = /\b(personal assistant|mystery shopper|payment (processing )?agent|package (handler|reshipper)|(procurement|distribution) of essential)\b/ nocase
    condition:
        part_kind == "message"
        and $pay and $job
        // A company hiring writes from its own domain about a named job.
        and (sender_freemail or reply_to_freemail or $mule)
}

rule SCAM_Lure_Loan_AnyCreditFreemail
{
    meta:
        id = "7e4c2a18-b5d3-4f69-8a1e-9d0f3c6b2a48"
        description = "Loan at a named low rate open to blacklisted or bad-credit borrowers, offered from a free-mail account"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "advance_fee_fraud"
        tactic = "social_engineering"

    strings:
        $loan = /\b(loan|financing)s? (offer )?(@|at) ?\d{1,2}([.,]\d+)? ?%|\b\d{1,2}([.,]\d+)? ?% (interest )?rates? (loan|offer)/ nocase
        // Lenders check credit; "open to blacklisted individuals" is the advance-fee hook.
        $any = /\b(blacklisted|bad credit|debt review|no credit check|regardless of (your )?credit)\b/ nocase
    condition:
        part_kind == "message"
        and $loan and $any
        and (sender_freemail or reply_to_freemail)
}
