/*
  Brazilian health-plan offers that pose as the insurer: "Planos Amil" in the name,
  a broker's throwaway domain in the address, a personalised "your quote is waiting"
  or "your plan was readjusted" pretext and a tracked link. Insurers mail their own
  customers from their own domains.
*/

rule PHISH_Lure_HealthPlan_InsurerFromOtherDomain
{
    meta:
        id = "1316e87b-d63f-4085-b5ca-afec132647ff"
        description = "Health-plan offer naming a Brazilian insurer (Amil, NotreDame Intermedica, SulAmerica, Unimed, Hapvida, Bradesco Saude) with a discount or quote pretext, from a domain that is not the insurer's"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "spam_scam"
        tactic = "impersonation"

    strings:
        $insurer = /\b(amil|notre ?dame|interm(e|\xc3\xa9|&eacute;)dica|sul ?am(e|\xc3\xa9|&eacute;)rica sa|unimed|hapvida|bradesco sa(u|\xc3\xba|&uacute;)de|porto sa(u|\xc3\xba|&uacute;)de|golden cross|prevent senior)\b/ nocase
        $plan = /planos? (de sa(u|\xc3\xba|&uacute;)de|amil|empresarial|familiar|para mei)|car(e|\xc3\xaa|&ecirc;)ncia/ nocase
        // The pretext: a discount, a quote waiting, a promotional table, a readjustment.
        $p1 = /at(e|\xc3\xa9|&eacute;) \d\d ?%/ nocase
        $p2 = /tabela (promocional|de pre(c|\xc3\xa7|&ccedil;)os)|por tempo limitado|condi(c|\xc3\xa7|&ccedil;)(a|\xc3\xa3|&atilde;)o (especial|exclusiva)/ nocase
        $p3 = /cota(c|\xc3\xa7|&ccedil;)(a|\xc3\xa3|&atilde;)o|reajust|reduza (seus|os|o) custos?/ nocase
    condition:
        part_kind == "message"
        and ($insurer or display_name matches /\b(amil|notre ?dame|interm(e|\xc3\xa9)dica|unimed|hapvida)\b/)
        and $plan
        and 2 of ($p*)
        // Speaks as the insurer (name or subject), from outside the insurer's domains.
        and (display_name matches /(amil|notre ?dame|interm|sul ?am|unimed|hapvida|plano|sa(u|\xc3\xba)de)/
             // ...or claims a relationship that does not exist: a quote "waiting for
             // you", an "exclusive proposal", "your plan was readjusted".
             or subject matches /(esperando voc|proposta exclusiva|sua cota(c|\xc3\xa7)(a|\xc3\xa3)o|seu plano.{0,16}reajust|tabela promocional)/)
        and not sender_domain matches /(^|\.)(amil|amilsaude|notredameintermedica|gndi|sulamerica|sulamericaseguros|unimed|hapvida|bradescosaude|bradescoseguros|portoseguro|goldencross|preventsenior)\.com(\.br)?$/
}
