/*
  Romance scams: a stranger introduces herself, asks where the reader lives and moves
  the talk to a private free-mail address. No link; the reply is the hook.
*/

rule SCAM_Lure_Romance_ReplyToPrivateAddress
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e43"
        description = "Unsolicited self-introduction as a lonely woman looking for a man, asking for a reply to a free-mail address"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "romance_scam"
        tactic = "social_engineering"

    strings:
        // Spun templates ("solitary adorable Mistress", "unmarried sincere girl"): up to
        // five filler words between "I am" and the noun.
        $intro1 = /\b(i am|i'm|im) (a |an )?([a-z0-9]+ ){0,5}(girl|girlfriend|girlfiend|woman|lady|mistress|chick|person|miss|female|lass)\b/ nocase
        $intro2 = /\b(i am|i'm|im) (a |an )?([a-z]+ ){0,2}\d{2} ?(years old|years|yo|y\.o\.)\b/ nocase
        $seek = /(looking|searching|seeking|waiting|trying to find|look up|look for) (for )?(a |an |my )?([a-z-]+ ){0,2}(guy|man|male|mister|gentleman|husband|partner|soul ?mate|dude)\b/ nocase
        $where = /(what|which) (state|country|city) are (you|u) from|where are (you|u) from|what('s| is) your age/ nocase
        $reply = /(email|e-mail|write|reply|response|respond|answer|contact) (to )?(me )?(back )?(at|to|on|via)\b/ nocase
        // "Reply me pittr4789@gmail.com", "My e-mail box for response: x@gmail.com":
        // the private address itself, right after the request.
        $reply2 = /(reply|write|email|e-mail|response|respond)( to)?( me)?( at| on| box for response)?:? ?[a-z0-9._-]{3,40}@(gmail|hotmail|outlook|yahoo|aol|proton|protonmail|yandex|icloud|mail)\.[a-z]{2,3}\b/ nocase
        $photo = /(send|reply) (to )?you (my )?(photos?|pictures?|pics)|my (photos|pictures) (to you|soon)/ nocase
        $free = /@(gmail|hotmail|outlook|yahoo|mail|aol|proton|protonmail|yandex|icloud)\.[a-z]{2,3}\b/ nocase
    condition:
        part_kind == "message"
        and ($intro1 or $intro2)
        and ($seek or $where)
        and ($reply or $photo or $free)
        // Forwarded copies lose the self-introduction: seeking a man, promising a
        // photo and naming the private address to write to is the same template.
        or part_kind == "message" and $seek and $photo and $reply2
}
