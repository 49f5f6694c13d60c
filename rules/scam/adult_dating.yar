/*
  Adult and dating lures: explicit invitations that push to a link. Real dating
  services send notifications from their own domains about matches, not this wording.
*/

rule SCAM_Lure_Dating_ExplicitInvite
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e41"
        description = "Explicit sex or dating invitation (several languages) with a link"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "spam_scam"
        tactic = "social_engineering"

    strings:
        $s1 = /\b(hot|sexy|naked|horny|lonely) (girls?|women|woman|ladies|singles|wives|milfs?|brides?)\b/ nocase
        $s2 = /\b(ukrainian|russian|asian|latin|local) (beaut(y|ies)|girls?|women|woman|brides?|singles|wives)\b/ nocase
        $s3 = /\b(sex ?dating|casual sex|hook ?up|one[- ]night stand|sex ?date|fuck ?buddy|looking for (a )?lover|nackte frauen|reife ?frauen|geile (m(a|\xc3\xa4)dchen|frauen)|m(a|\xc3\xa4)dchen warten)\b/ nocase
        $s4 = /(ukrainische|russische) (sch(o|\xc3\xb6)nheit|frau|m(a|\xc3\xa4)dchen|singles)|(filles|femmes|beaut(e|\xc3\xa9)s) (ukrainiennes|russes)|(oekra(i|\xc3\xaf)ense|russische) (meisjes|vrouwen|schoonheden)/ nocase
        $s5 = /\b(see|view|watch) (my|her|their) (private )?(photos|pictures|pics|videos)\b|\b(meine|ihre) (fotos|bilder) (an)?sehen/ nocase
        $s6 = /\b(orgasm|orgazm|erotic|porn|nudes?|xxx)\b/ nocase
        $s11 = /\bi (want|wanna) (to have |hard )?sex\b|\b(want|wanna) to have sex with you\b/ nocase
        $s12 = /\b(suck (your|my)|adult (entertainment|fun|contacts?)|(girls|women|ladies|singles) in your (city|area|town))\b/ nocase
        // Dutch WhatsApp-group wave: "vrouwen ontmoeten", "de heetste avonturen".
        $s13 = /\b((vrouwen|singles|meiden) ontmoeten|ontmoeten via whatsapp|whatsapp-nummers van singles)\b/ nocase
        $s14 = /\b(heetste avonturen|spannende contacten|ruimdenkende vrouwen|geile (vrouwen|meiden))\b/ nocase
        // Dutch: the wave of "neighbour"/"photos"/"WhatsApp dating" mail.
        $s8 = /\b(neuken|neuk me|naaktfoto'?s|seksafspraak|sekscontact)\b/ nocase
        $s10 = /\b(sexy profielen|geen nepprofielen|spannende afspraak|vaste relatie|flirten (voor|met)|afspreken en ontmoeten|(oekra(i|\xc3\xaf)ens|russisch) meisje)\b/ nocase
        $s9 = /\b(ben je nog (steeds )?(op ?zoek|alleen)|ik was je (e-?mail ?adres|nummer) kwijt|wil je (me|mij) (ontmoeten|zien)|wanneer heb je tijd|heb jij dit weekend tijd|bekijk (mijn|m'n) (foto'?s|profiel))\b/ nocase
        $s7 = /\b(in mijn slaapkamer|alleen als je volwassen bent|de buurvrouw|neuk|kan je zo even chatten|even met je (willen )?praten|ons samen zijn|waarom reageer je niet|sexkontakte|seitensprung)\b/ nocase
    condition:
        part_kind == "message"
        and url_count > 0
        and (
            2 of ($s*)
            // A stranger writing "I want to have sex with you" needs no second phrase.
            or $s11
            // Dating words in the subject or the sender's name make one phrase enough.
            or subject matches /\b(sex|dating|singles|hot date|lover|frauen|m(a|\xc3\xa4)dchen|meisjes|filles|femmes)\b/
               and any of ($s1, $s2, $s3, $s4, $s5)
            or display_name matches /\b(sex ?dating|singles|beaut(y|ies)|schoonhe(id|den)|frauen|m(a|\xc3\xa4)dchen|meisjes|filles|girls|women|dating|lover)\b/
               and any of ($s*)
            // Hearts or kisses in the subject plus one dating phrase: the invitation
            // wave, not a newsletter (those need two phrases above).
            or subject matches /(\xe2\x9d\xa4|\xe2\x99\xa1|\xf0\x9f\x92[\x8b-\x9f]|\xf0\x9f\x98[\x8d\x98]|\xf0\x9f\xa7\xa1)/
               and any of ($s*)
            // Peach, aubergine, lips or 18+ in the sender's name is not a business.
            or display_name matches /\xf0\x9f(\x8d\x91|\x8d\x86|\x92\x8b|\x94\x9e)/
        )
}
