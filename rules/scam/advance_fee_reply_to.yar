/*
  Short advance-fee openers: two lines and a Reply-To at a free-mail account. The
  From is a hijacked company or university mailbox (it passes SPF); the conversation
  is steered to a private address the fraudster controls. The second rule is the
  one-line version sent straight from the free-mail account: "Mr. X has donated
  $3,500,000.00 to you".
*/

rule SCAM_Lure_AdvanceFee_ReplyToFreemailOffer
{
    meta:
        id = "409454b9-88f5-4c9b-bbce-1369c2404af4"
        description = "Replies go to a free-mail account on another domain than the sender, and the text offers a deal, funds or a donation and asks for a reply"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "advance_fee_fraud"
        tactic = "social_engineering"

    strings:
        // The offer: money or a deal from a stranger (several languages).
        $offer1 = /\b(lucrative|profitable|urgent|confidential|sensitive) (business )?(deal|dealing|transaction|proposal|offer|project)/ nocase
        $offer2 = /\b(business|investment) (proposal|proposition|deal|dealing|funding)\b/ nocase
        $offer3 = /\b(transferring|transfer|release) (of )?(his|her|the|my|these|this) (funds?|money|sum|inheritance)\b/ nocase
        $offer4 = /\b(has )?donated (\$|us|usd|eur|\xe2\x82\xac)|\b(donation|inheritance|compensation|outstanding payment|claims?) of (\$|us|usd|eur|\xe2\x82\xac)/ nocase
        $offer5 = /(oferta|proposta) (delicada|de neg(o|\xc3\xb3)cio|confidencial)|dep(o|\xc3\xb3)sito de us\$|oferta (confidencial|delicada)/ nocase
        $offer6 = /\b(project|fund|funds|money) (which|that) I (want|wish|would like) (you|to)/ nocase
        $offer7 = /\b(not enough funds|financ(e|ing) (your|profitable) (business|project)|loan (offer|at \d))/ nocase
        $offer8 = /\b(this|the|huge|large) (fund|funds|amount of money)\b|\$ ?\d+(\.\d+)? ?million|\b(compensat(ing|ion)|beneficiar(y|ies)|next of kin)\b/ nocase
        $offer9 = /reivindicar o fundo|milh(o|\xc3\xb5)es (de )?d(o|\xc3\xb3)lares|pr(o|\xc3\xb3)ximos? de parentes|neg(o|\xc3\xb3)cio (e|\xc3\xa9) confidencial/ nocase
        $offer10 = /\b(confide in you|(vital|important|private) (subject|matter|issue) to discuss( with you)?|we have never met)\b/ nocase
        // The hook: answer me (privately) for the details.
        $ask1 = /\b(get back to me|get back so|kindly (respond|reply|get back|contact)|reply (me|urgently)|respond(a-me)? (for|para) (more|mais) (details|detalhes)|for more (details|info))/ nocase
        $ask2 = /\b(contact (me|us) for|feel free to contact us|await(ing)? your (response|reply|urgent)|waiting for your (response|reply)|responda-me|my contact e-?mail|sua resposta urgente)/ nocase
        // Web contact forms relay a visitor's message with Reply-To set to the
        // visitor: legitimate, and they say so.
        $fp1 = /(contact form|contact-form|form submission|new (enquiry|inquiry|submission|message) (via|from|on)|sent (via|from|through) (the|your|our) (website|site|web ?site|contact))/ nocase
    condition:
        part_kind == "message"
        // Replies leave the sender's domain for a free-mail mailbox: a company's
        // newsletter or a mailing list points Reply-To at itself or at a list, not at
        // a stranger's gmail.com. (Web contact forms do this too; hence the wording.)
        and reply_to_freemail
        and reply_to_domain != sender_domain
        and any of ($offer*)
        and not $fp1
        and (any of ($ask*) or subject matches /(urgent|respond|response|proposal|partnership|donat|claim|funds?)/)
}

rule SCAM_Lure_AdvanceFee_FreemailMillionsGift
{
    meta:
        id = "bd4b9d7d-a417-4ba6-8209-12605cfb4165"
        description = "A sum in the millions donated, awarded or left to the reader, from or replied to a free-mail account"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "advance_fee_fraud"
        tactic = "social_engineering"

    strings:
        // $3,500,000.00 / US$ 1,500,000 / EUR 2.000.000: millions, written out.
        $sum = /(us ?\$|usd ?|\$|eur ?|\xe2\x82\xac ?|\xc2\xa3 ?) ?\d{1,3}([,.]\d{3}){2,}/ nocase
        $sum2 = /\b\d+(\.\d+)? ?(m|million) ?(usd|us dollars|dollars|euros?)\b/ nocase
        // ...given to a stranger, which is the whole story.
        $gift = /\b(has donated|have donated|(decided|wish|want) to donate|donation (of|to you)|for the purpose of charity|selected you to receive|you have been (selected|chosen|awarded)|to receive (a|the) sum|(won|awarded) (a|the) (sum|prize|lottery))\b/ nocase
    condition:
        part_kind == "message"
        // A fortune is not given away from a free-mail account.
        and (sender_freemail or reply_to_freemail)
        and ($sum or $sum2) and $gift
}
