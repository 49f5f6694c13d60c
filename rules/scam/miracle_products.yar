/*
  Miracle-product spam: diet pills, cheap pharmacy, "energy saver" gadgets. Not a
  credential theft, but the same senders, links and tricks, and nobody's employer
  wants it in the inbox.
*/

rule SCAM_Lure_Product_DietPharmacy
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e42"
        description = "Weight-loss or cheap-pharmacy miracle claims (several languages) with a link"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "spam_scam"
        tactic = "social_engineering"

    strings:
        // A drug name alone is news; a drug name with a price or an order is a shop.
        $x1 = /\b(viagra|cialis|c!al!s|v1agra|levitra|kamagra)\b[^\n]{0,60}(\$|\xe2\x82\xac|price|cost|discount|cheap|per pill|order|abatement|rabatt)/ nocase
        $x2 = /\b(keto ?(x?plode|gummies|diet|burn)|ketoxplode|fat ?burn(er|ing)|carb ritual|weight[- ]loss (gummies|pills?|miracle|secret)|gewichtsverlust|gewichtsreduktion|schlankheits|perte de poids|gewichtsverlies|perda de peso|afvallen)/ nocase
        $x3 = /\b(lose|lost|losing|dropped|shed|verliert|perdu|verlies|verloren|perdeu) \d{1,3}([.,]\d)? ?(kg|lbs?|pounds|pond|kilo)/ nocase
        // "Weight-loss doubling trick", "40 pounds lighter": the miracle, not the product.
        $x5 = /\b(weight[- ]loss[- ](doubling|trick|hack)|\d{2} (pounds|lbs|kg|kilos) lighter|fat[- ]loss hormones?|belly fat (melt|trick|gone))/ nocase
        $x4 = /\b(skin tags?|tinnitus|nail fungus|blood sugar|erectile) (remov|cure|fix|solution|gone)/ nocase
    condition:
        part_kind == "message"
        and url_count > 0
        and (any of them
             or subject matches /\b(viagra|cialis|c!al!s)\b/
             or display_name matches /\b(viagra|cialis|pharmacy)\b/)
}
