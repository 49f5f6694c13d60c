/*
  Advance-fee fraud (419): a stranger offers a share of a fortune for a reply. No link
  is needed; the hook is the money story, told with a small, stable vocabulary.
*/

rule SCAM_Lure_AdvanceFee_FundsStory
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e40"
        description = "Several advance-fee fraud phrases together: inheritance/compensation funds, next of kin, ATM card, confidential business proposal"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "advance_fee_fraud"
        tactic = "social_engineering"

    strings:
        $s1 = /next of kin/ nocase
        $s2 = /(compensation|inheritance|unclaimed|abandoned|dormant) (fund|sum|deposit|consignment|account)/ nocase
        $s3 = /atm (visa |master ?)?card/ nocase
        $s4 = /(business|investment) (proposal|proposition|collaboration|partner)/ nocase
        $s5 = /\b(million|m\.?) ?(united states |us |u\.s\. )?(dollars|usd|euros?|pounds)\b/ nocase
        $s6 = /\b(beneficiary|barrister|diplomat|consignment|late husband|widow|terminal (illness|disease)|cancer)\b/ nocase
        $s7 = /(strictly |highly )?(confidential|private) (and|&) (urgent|important)|urgent (response|reply|attention)/ nocase
        $s8 = /(reply|respond|get back to me) (to|via|with) (my|this) (private|personal|alternative) (e-?mail|address)/ nocase
        $s9 = /(your|the) (share|percentage) (of|will be) (\d+|thirty|forty|fifty)/ nocase
        $s10 = /(charitable|charity) (goal|work|purpose|organi[sz]ation)s?/ nocase
        $s11 = /(my|our) (greatest|last) (desire|wish)/ nocase
        $s12 = /(100%|absolutely|completely|totally) risk[- ]free/ nocase
        $s13 = /(beneficial|benefit|profitable) (to|for) (both of us|us both|both parties)/ nocase
        $s14 = /(transfer|move|moving|transferring) (the|his|her|these|this|my) (funds|money|sum)/ nocase
        $s15 = /(dear (friend|beneficiary|sir\/madam)|my dear|pleasant greetings)/ nocase
        $s16 = /kindly (respond|reply|contact|get back|send|provide|furnish)/ nocase
        $s17 = /(funds|payment) (recovered|release|approved|transfer|order)/ nocase
        // Sums in the millions, written out: US$5,000,000.00, $2,500,000, EUR 3.500.000
        $s18 = /(us ?\$|usd ?|\$|eur ?|\xe2\x82\xac ?|\xc2\xa3 ?)\d{1,3}([,.]\d{3}){2,}/ nocase
        $s19 = /\b(security company|diplomatic (agent|courier)|clearance (fee|certificate)|western union|moneygram|fund (release|owner))\b/ nocase
        // The dying donor and the dead depositor: "deposited it in a bank before his
        // sudden death", "I am childless", "before I die" (first person: a charity's
        // memorial appeal tells someone else's story).
        $s20 = /\b((i am|i'm) childless|(my )?days are numbered|may not live beyond|before i die|(deposited|left) (it|the (funds?|money|sum))[^.]{0,40}before (his|her) (sudden )?death)\b/ nocase
        // The reader's cut: "30% of this funds is your commission", "use 50% for yourself".
        $s21 = /\b\d{1,2} ?% of (this|the|these|my) (funds?|money|sum)|\b\d{1,2} ?% for (yourself|you)\b|\byour commission\b/ nocase
        $s22 = /\b(hitch[- ]free|free risk|no risks? (involved|attached)|100% (genuine|legal|safe|guaranteed))\b/ nocase
        // The abandoned cash consignment at an airport, held for "non inspection fees".
        $s23 = /\b(abandoned|unclaimed|undeclared) (shipment|consignment|package|trunk|boxes)|metal trunk box|undisclosed sum of money/ nocase
        $s27 = /\b(non[- ]inspection (fees?|documents?)|financial gratification|yellow tag)\b/ nocase
        // "someone with a simple profile like yourself": chosen because unknown.
        $s28 = /\b(simple|low|clean) profile like (you|yourself)|someone like you(rself)? to (help|assist|receive|manage)\b/ nocase
        $s24 = /\b(help|assist) (her|him|them|us) (to )?(move|receive|manage|reinvest|invest|transfer)|confidential client\b/ nocase
        // "An investment partner in your country": the stranger's money needs the
        // reader's country, which a real investor would have named.
        $s25 = /\b(partner|invest(ed|ment)?|relocate|transfer(red)?)\s+in\s+your\s+country\b/ nocase
        $s26 = /\bsend (you )?(more|the|further) details (once|as soon as|when) i (receive|get|hear)/ nocase
    condition:
        part_kind == "message"
        // Three different phrases: one of them turns up in news and lists; a story
        // built of three is the template.
        and 3 of ($s*)
}
