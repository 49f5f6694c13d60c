/*
  Disguised text: tricks that keep a word readable to a person while hiding it from a
  filter. Legitimate senders want their words found, so they have no reason to do this.
*/

rule PHISH_Evasion_Text_InvisibleCharsInWords
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e20"
        description = "Letters separated one by one with invisible characters (zero-width, LRM, combining joiner, soft hyphen) to break up words"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "evasion"
        tactic = "obfuscation"

    strings:
        // letter, invisible run, letter, invisible run, letter, invisible run, letter.
        // Invisible: U+200B-U+200F, U+2060, U+2066-U+2069 (bidi isolates), U+FEFF, U+034F, U+00AD (UTF-8 bytes).
        // Four letters in a row each split off: a hyphenation hint (one soft hyphen per
        // word) or a preheader pad (invisible runs between spaces) never looks like this.
        $x = /[A-Za-z](\xe2\x80[\x8b-\x8f]|\xe2\x81[\xa0\xa6-\xa9]|\xef\xbb\xbf|\xcd\x8f|\xc2\xad| )*(\xe2\x80[\x8b-\x8f]|\xe2\x81[\xa0\xa6-\xa9]|\xef\xbb\xbf|\xcd\x8f|\xc2\xad)[A-Za-z](\xe2\x80[\x8b-\x8f]|\xe2\x81[\xa0\xa6-\xa9]|\xef\xbb\xbf|\xcd\x8f|\xc2\xad| )*(\xe2\x80[\x8b-\x8f]|\xe2\x81[\xa0\xa6-\xa9]|\xef\xbb\xbf|\xcd\x8f|\xc2\xad)[A-Za-z](\xe2\x80[\x8b-\x8f]|\xe2\x81[\xa0\xa6-\xa9]|\xef\xbb\xbf|\xcd\x8f|\xc2\xad| )*(\xe2\x80[\x8b-\x8f]|\xe2\x81[\xa0\xa6-\xa9]|\xef\xbb\xbf|\xcd\x8f|\xc2\xad)[A-Za-z]/
    condition:
        part_kind == "message"
        and $x
        // Also in the display name or subject, where the header block holds them encoded.
        or (part_kind == "message"
            and (display_name matches /[a-z](\xe2\x80[\x8b-\x8f]|\xcd\x8f|\xc2\xad)+ *[a-z](\xe2\x80[\x8b-\x8f]|\xcd\x8f|\xc2\xad)+ *[a-z]/
                 or subject matches /[a-z](\xe2\x80[\x8b-\x8f]|\xcd\x8f|\xc2\xad)+ *[a-z](\xe2\x80[\x8b-\x8f]|\xcd\x8f|\xc2\xad)+ *[a-z]/))
}

rule PHISH_Evasion_Text_MixedScriptHomoglyph
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e21"
        description = "Display name or subject mixes Cyrillic/Greek/IPA look-alike letters into Latin words (Binance with a Cyrillic a)"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "evasion"
        tactic = "obfuscation"

    condition:
        part_kind == "message"
        // A Latin letter directly next to a Cyrillic (U+0400-U+04FF: D0/D1 lead bytes),
        // Greek lower-case (CE/CF) or Latin-alpha/IPA (C9/CA) letter inside one word:
        // real Russian or Greek text is written in its own script, not spliced into
        // Latin words, and these letters are chosen because they look like a, e, o, c.
        // Greek letters arrive lower-cased (the externals are), so a capital Kappa in
        // "(\u039aYC)" is CE BA here; micro (CE BC) is left out for "5\u03bcm".
        and (display_name matches /[a-z]([\xd0\xd1\xc9\xca][\x80-\xbf]|\xce[\xb1-\xbb\xbd-\xbf]|\xcf[\x80-\x89])|([\xd0\xd1\xc9\xca][\x80-\xbf]|\xce[\xb1-\xbb\xbd-\xbf]|\xcf[\x80-\x89])[a-z]/
             or subject matches /[a-z]([\xd0\xd1\xc9\xca][\x80-\xbf]|\xce[\xb1-\xbb\xbd-\xbf]|\xcf[\x80-\x89])|([\xd0\xd1\xc9\xca][\x80-\xbf]|\xce[\xb1-\xbb\xbd-\xbf]|\xcf[\x80-\x89])[a-z]/)
}

rule PHISH_Evasion_Text_MathAlphanumeric
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e22"
        description = "Subject or display name written in Unicode mathematical/double-struck letters so filters cannot read it"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "evasion"
        tactic = "obfuscation"

    condition:
        part_kind == "message"
        // U+1D400-U+1D7FF (F0 9D 90-9F ..) three times in a row is a word, not a symbol.
        and (subject matches /(\xf0\x9d[\x90-\x9f][\x80-\xbf]){3}/
             or display_name matches /(\xf0\x9d[\x90-\x9f][\x80-\xbf]){3}/
             // Double-struck C, H, N, P, Q, R, Z live in the letterlike block (E2 84 ..)
             or subject matches /\xf0\x9d[\x90-\x9f][\x80-\xbf]\xe2\x84[\x80-\xbf]|\xe2\x84[\x80-\xbf]\xf0\x9d[\x90-\x9f][\x80-\xbf]/)
}

rule PHISH_Evasion_Text_LookalikeBrandSpelling
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e23"
        description = "Brand or login words spelled with capital I for l or zero for O (PaypaI, WaIIet, Iog in, IMP0RTANT)"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "evasion"
        tactic = "obfuscation"

    strings:
        // Case-sensitive on purpose: the capital I standing in for a lower-case l is the tell.
        $x1 = /\b(PaypaI|PayPaI|WaIIet|AppIe|GoogIe|OutIook|BiIling|HeIp ?desk|Iedger|LEDGEr)\b/
        $x2 = /\b(Iog ?in|Iogin|Iog-in|sign-ln|User ?lD|IDentity)\b/
        $x3 = /\b(IMP0RTANT|ACC0UNT|0FFICE|MICR0S0FT|PASSW0RD|INF0RMATI0N|N0TICE)\b/
        $x4 = /\b(lmmediate|lmportant|lnvoice|Rnicrosoft|Arnazon|lRS)\b/
        // Pharmacy spam's lower-case l for I: VlAGRA, ClALlS.
        $x5 = /\b(VlAGRA|V1AGRA|ClALlS|ClALIS|CIALlS|Vl4GRA)\b/
    condition:
        part_kind == "message"
        and any of them
}

rule PHISH_Evasion_Header_MultipleFromMailboxes
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e24"
        description = "From header lists a quoted display name, a comma and a second mailbox: a trick to show one name and send as another"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "evasion"
        tactic = "spoofing"

    strings:
        // From: "Brand Name", junk <real@sender>  -- the comma sits outside the quotes,
        // so the header holds two mailboxes and clients show the first, address-less one.
        // "Smith, John" <j@x> keeps its comma inside the quotes and does not match.
        $x1 = /(^|\n)From:[ \t]*"[^"\r\n]{1,80}"[ \t]*,[ \t]*[^,<>\r\n]{0,40}<[^>\r\n]+@/ nocase
        // The same without quotes: "From: Brand Gutschein, junk <real@sender>". RFC 5322
        // senders must quote a display name holding a comma; mail software does.
        $x3 = /(^|\n)From:[ \t]*[^"<>,\r\n@]{1,80},[ \t]*[^,<>"\r\n@]{1,40}<[^>\r\n]+@/ nocase
        // An empty address <> in From is never a real sender.
        $x2 = /(^|\n)From:[^\r\n]{0,120}<>/ nocase
        // An angle address opened twice, "Name <junk@<real@domain>": parsers disagree on
        // which mailbox it is, and no mail program writes it.
        $x4 = /(^|\n)From:[^\r\n]{0,120}<[^<>\r\n]{0,64}</ nocase
        $blank = /\n\r?\n/
    condition:
        part_kind == "message"
        and any of ($x*)
        // Only in the header block (before the first blank line), never in a body that
        // quotes headers.
        and (for any i in (1..#x1) : (@x1[i] < @blank[1])
             or for any i in (1..#x2) : (@x2[i] < @blank[1])
             or for any i in (1..#x3) : (@x3[i] < @blank[1])
             or for any i in (1..#x4) : (@x4[i] < @blank[1]))
}

rule PHISH_Evasion_Text_CombiningMarkSplice
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e25"
        description = "Latin letters each overlaid with a combining mark from an unrelated script or the overlay block (a mark after every letter of Amazon) so a brand name no longer matches filters"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "evasion"
        tactic = "obfuscation"

    strings:
        // Overlays U+0334-U+0338, Syriac marks U+0730-U+074A, both after Latin letters,
        // three times within a word or a dotted domain ("am\u073fazo\u073fn.\u073fc\u073fom"): up to three
        // letters or dots between marks. Accents a language needs (U+0300-U+0333) are not here.
        $x = /[A-Za-z](\xcc[\xb4-\xb8]|\xdc[\xb0-\xbf]|\xdd[\x80-\x8a])[A-Za-z.]{0,3}(\xcc[\xb4-\xb8]|\xdc[\xb0-\xbf]|\xdd[\x80-\x8a])[A-Za-z.]{0,3}(\xcc[\xb4-\xb8]|\xdc[\xb0-\xbf]|\xdd[\x80-\x8a])/
    condition:
        part_kind == "message"
        and ($x
             or display_name matches /[a-z](\xcc[\xb4-\xb8]|\xdc[\xb0-\xbf]|\xdd[\x80-\x8a])/
             or subject matches /[a-z](\xcc[\xb4-\xb8]|\xdc[\xb0-\xbf]|\xdd[\x80-\x8a])[a-z]?(\xcc[\xb4-\xb8]|\xdc[\xb0-\xbf]|\xdd[\x80-\x8a])/)
}

rule PHISH_Evasion_Html_HiddenWordSalad
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e26"
        description = "HTML hides a long run of plain words (display:none, zero font size, zero opacity, or inside a style block) to poison content filters; a newsletter preheader is one short sentence"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "evasion"
        tactic = "hash_busting"

    strings:
        // The hidden element's text starts right after the tag and runs 600+ characters
        // of words and punctuation with no markup: invisible text nobody is meant to read.
        $x1 = /display\s*:\s*none[^>]{0,200}>[A-Za-z0-9 ,.;:'_\-\r\n]{600}/ nocase
        $x2 = /font-size\s*:\s*0(px|pt|em)?\s*[;"'][^>]{0,200}>[A-Za-z0-9 ,.;:'_\-\r\n]{600}/ nocase
        $x3 = /opacity\s*:\s*0\s*[;"'][^>]{0,200}>[A-Za-z0-9 ,.;:'_\-\r\n]{600}/ nocase
        // Words stuffed into a <style> block: mail clients never render it, and real
        // CSS has braces within its first 600 characters.
        $x4 = /<style[^>]{0,100}>[A-Za-z0-9 ,.;:'_\-\r\n]{600}/ nocase
    condition:
        part_kind == "message"
        and any of them
}

rule PHISH_Evasion_Css_OffscreenPush
{
    meta:
        id = "59ae752a-a524-4d1b-a359-c5be7cdfa64b"
        description = "Stylesheet pushes content tens of thousands of pixels (or dozens of screens) away, so a borrowed newsletter hides below the visible lure"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "spam_scam"
        tactic = "evasion"

    strings:
        // margin-top: 470500px / height: 10000vh: no layout needs a page a hundred
        // screens tall; the filler is a copied newsletter that makes the mail look
        // legitimate to a filter while the reader sees only the lure on top.
        $push1 = /(margin(-top|-bottom)?|padding(-top|-bottom)?|height|min-height|top)\s*:\s*\d{5,}px/ nocase
        $push2 = /(height|min-height|margin-top|padding-top)\s*:\s*\d{4,}vh/ nocase
    condition:
        part_kind == "message"
        and any of them
}

rule PHISH_Evasion_Filename_InvisibleChars
{
    meta:
        id = "d7a4c1e2-5b3f-4a8e-9c60-7e2f1b8d4a53"
        description = "Attachment file name holds invisible or direction-changing characters (zero-width, grapheme joiner, soft hyphen, bidi controls)"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "evasion"
        tactic = "obfuscation"

    condition:
        part_kind == "attachment"
        // Nobody types these into a file name: they break hash and name matching
        // ("reviewdocument\u034f\u034f.pdf") or flip how the extension reads (U+202E).
        // ZWJ (E2 80 8D) is left out: emoji sequences use it.
        and filename matches /(\xe2\x80[\x8b\x8c\x8e\x8f\xaa-\xae]|\xe2\x81[\xa0\xa6-\xa9]|\xef\xbb\xbf|\xcd\x8f|\xc2\xad)/
}

rule PHISH_Evasion_Subject_UnderscoreJoinedLure
{
    meta:
        id = "f1c8e3a5-2d9b-4e7a-b6c4-0a3d5e8f7b94"
        description = "Subject writes its pressure words joined by underscores instead of spaces (_hurry_up_!_Rewards_have_arrived!_, Unusual_activity_on_your_Account)"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "evasion"
        tactic = "obfuscation"

    condition:
        part_kind == "message"
        // Three or more words glued with underscores to the end of the subject: phrase
        // filters look for "unusual activity" with a space.
        and subject matches /(^|[ :])_?[a-z!]+(_[a-z!]+){2,}_?$/
        // ...and the glued words are a lure's, not a file name (Q3_sales_report.xlsx
        // has an extension; a scan-to-mail subject names no reward or threat).
        and subject matches /(reward|prize|winner|unusual|hurry|claim|urgent|suspend|locked|verify|bonus)/
        and not subject matches /\.[a-z0-9]{2,4}$/
}
