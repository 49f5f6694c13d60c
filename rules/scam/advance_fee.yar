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
    condition:
        part_kind == "message"
        // Three different phrases: one of them turns up in news and lists; a story
        // built of three is the template.
        and 3 of ($s*)
}
