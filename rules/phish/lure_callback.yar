/*
  Callback (telephone-oriented) billing lures: "your order / renewal has been charged,
  call us to cancel". No link; the phone number is the attack. Real shops, antivirus
  vendors and PayPal send receipts from their own domains, never from a free-mail
  account whose display name is an order number.
*/

rule PHISH_Lure_Callback_FreemailBillingNotice
{
    meta:
        id = "e45407c6-4101-44ca-a1ba-8ff6ca51785a"
        description = "Order, renewal or invoice notice naming a software, security or payment brand, with a charged amount, sent from a free-mail address"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "callback_phishing"
        tactic = "impersonation"

    strings:
        // The brand whose billing is faked: what makes the reader believe the charge.
        $brand = /\b(norton|lifelock|mcafee|geek ?squad|best ?buy|paypal|microsoft|windows defender|defender|avast|kaspersky|bitdefender|malwarebytes|coinbase|amazon|apple|ebay|totalav)\b/ nocase
        // Billing wording: an order, a renewal or an invoice was charged.
        $bill1 = /\b(order (confirmation|number|id|details|#)|invoice (id|number|no|#|date)|billing (id|details|date)|renewal|auto-?renew(ed|al)?|subscription (has been|was) renewed|transaction id)\b/ nocase
        // A price with cents ($389.99): what a receipt shows.
        $bill2 = /(\$|usd|eur|\xe2\x82\xac) ?\d{2,4}[.,]\d\d\b/ nocase
        // The hook: call or reply to cancel or dispute.
        $hook = /\b(cancel|dispute|refund|didn'?t (make|authori[sz]e)|not (made|authori[sz]ed) by you|customer (service|support)|help ?desk|call (us|our)|toll[- ]free|contact (us|our))\b/ nocase
    condition:
        part_kind == "message"
        // A business bills from its own domain; the free-mail sender is the tell.
        and sender_freemail
        and $brand
        and $bill1 and $bill2
        and $hook
}
