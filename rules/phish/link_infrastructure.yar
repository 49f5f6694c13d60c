/*
  Where the links and pictures live. Brands host their own images and landing pages;
  throwaway lures borrow free image hosts, raw IP addresses and anonymous cloud buckets
  because they cost nothing and need no registration.
*/

rule PHISH_Link_FreeImageHost_ClickableMail
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e30"
        description = "HTML mail whose pictures come from an anonymous free image host (imgur, ibb.co, zupimages, postimg) and which links elsewhere"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "spam_scam"
        tactic = "throwaway_infrastructure"

    strings:
        // <img src="https://i.imgur.com/...">: the picture is the message.
        $img = /<img[^>]{0,300}src\s*=\s*["']?https?:\/\/(i\.)?(imgur\.com|ibb\.co|zupimages\.net|postimg\.cc|i\.postimg\.cc|imgbb\.com|pixhost\.to|imageshack\.com|i\.ibb\.co|prnt\.sc|imgpile\.com|freeimage\.host|iili\.io)\// nocase
        $href = /<a[^>]{0,300}href\s*=\s*["']?https?:\/\// nocase
    condition:
        part_kind == "message"
        and $img
        and $href
}

rule PHISH_Link_Href_RawIPAddress
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e31"
        description = "A clickable link points at a bare IPv4 address instead of a domain"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "credential_phishing"
        tactic = "throwaway_infrastructure"

    strings:
        $x = /href\s*=\s*["']?https?:\/\/\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}[:\/"'> ]/ nocase
        // Private and loopback ranges: intranet tools and routers, not lures.
        $fp1 = /href\s*=\s*["']?https?:\/\/(10|127)\.\d{1,3}\.\d{1,3}\.\d{1,3}/ nocase
        $fp2 = /href\s*=\s*["']?https?:\/\/192\.168\.\d{1,3}\.\d{1,3}/ nocase
        $fp3 = /href\s*=\s*["']?https?:\/\/172\.(1[6-9]|2\d|3[01])\.\d{1,3}\.\d{1,3}/ nocase
    condition:
        part_kind == "message"
        and #x > #fp1 + #fp2 + #fp3
}

rule PHISH_Link_Href_AnonymousCloudLanding
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e32"
        description = "A clickable link goes to a page on anonymous cloud hosting (storage buckets, Cloud Run, Firebase, Pages/Workers, IPFS gateways, free TLDs)"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "credential_phishing"
        tactic = "throwaway_infrastructure"

    strings:
        // Anyone can put a page on these in a minute, under the provider's good name.
        $h1 = /href\s*=\s*["']?https?:\/\/(storage\.googleapis\.com|storage\.cloud\.google\.com|[a-z0-9-]+\.blob\.core\.windows\.net|[a-z0-9.-]*s3[.-][a-z0-9.-]*amazonaws\.com\/[^"'>\s]*\.html?)/ nocase
        $h2 = /href\s*=\s*["']?https?:\/\/[a-z0-9-]+(-[a-z0-9]+)*\.(a\.)?run\.app[\/"'>]/ nocase
        $h3 = /href\s*=\s*["']?https?:\/\/[a-z0-9-]+\.(web\.app|firebaseapp\.com|r2\.dev|pages\.dev|workers\.dev|glitch\.me|netlify\.app|vercel\.app|onrender\.com|repl\.co|ngrok\.io|ngrok-free\.app|trycloudflare\.com)[\/"'>]/ nocase
        $h4 = /href\s*=\s*["']?https?:\/\/[^"'>\s\/]*(ipfs\.|\/ipfs\/)/ nocase
        $h7 = /href\s*=\s*["']?https?:\/\/[a-z0-9.-]+\.(cloudfunctions\.net|digitaloceanspaces\.com|wasabisys\.com|page\.link|web\.core\.windows\.net|appspot\.com|herokuapp\.com|azurewebsites\.net|000webhostapp\.com)[\/"'>:]/ nocase
        $h5 = /href\s*=\s*["']?https?:\/\/ec2-\d+-\d+-\d+-\d+\.[a-z0-9.-]*compute\.amazonaws\.com/ nocase
        // Free or abused-by-default TLDs (Freenom and friends).
        $h6 = /href\s*=\s*["']?https?:\/\/[a-z0-9.-]+\.(tk|ml|ga|cf|gq)[\/"'>:]/ nocase
    condition:
        part_kind == "message"
        and any of them
}

rule PHISH_Link_Href_ShortenerWithLure
{
    meta:
        id = "b0d1a6a2-6c53-4a3e-9d8e-1f2a0c6b7e33"
        description = "HTML mail that hides its link behind a public URL shortener and uses prize, reward or account wording"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "spam_scam"
        tactic = "link_obfuscation"

    strings:
        $short = /href\s*=\s*["']?https?:\/\/(t\.co|bit\.ly|tinyurl\.com|t\.ly|ow\.ly|is\.gd|cutt\.ly|cutt\.us|rebrand\.ly|shorturl\.at|rb\.gy|tiny\.cc|geni\.us|s\.id|v\.gd|shorte\.st|urlz\.fr|l\.ead\.me)\// nocase
        $lure1 = /(congratulations|you('ve| have) (won|been selected)|winner|claim your|reward|gift ?card|free gift|prize)/ nocase
        $lure2 = /(gutschein|gewinn|gl(u|\xc3\xbc)ckwunsch|f(e|\xc3\xa9)licitations|gagn|r(e|\xc3\xa9)compense|recompensa|resgat|parab(e|\xc3\xa9)ns|premio|pr(e|\xc3\xaa)mio)/ nocase
        $lure3 = /(verify|confirm|suspend|unlock|expire|final notice|last chance|act now|limited time)/ nocase
    condition:
        part_kind == "message"
        and $short
        and any of ($lure*)
        // The shortener's own company sending its own short links is not hiding anything.
        and not sender_domain matches /(^|\.)(twitter|x|bitly|tinyurl)\.com$/
}

rule PHISH_Link_Redirector_ToShortener
{
    meta:
        id = "a9e2d4b7-6c1f-4f83-9d05-3b8e7c2a1f65"
        description = "Link goes through a social network's open redirector (vk.com/away, youtube.com/redirect, l.facebook.com) straight into a URL shortener"
        severity = "medium"
        action = "alert"
        status = "stable"
        attack_type = "credential_phishing"
        tactic = "link_obfuscation"

    strings:
        // Two hops of hiding: the redirector lends its reputation to the link, the
        // shortener hides where it ends. A real share links the page, not a bit.ly.
        // Google's url?q= is left out: Calendar wraps every link in an invite that way.
        $x = /(vk\.com\/away\.php|youtube\.com\/redirect|t\.umblr\.com\/redirect|l\.facebook\.com\/l\.php|l\.instagram\.com\/)\?[^"'\s<>]{0,80}(to|u|q|url)=https?(%3a|:)(%2f|\/){2}(bit\.ly|tinyurl\.com|cutt\.ly|is\.gd|t\.ly|rb\.gy|shorturl\.at|ow\.ly|rebrand\.ly|s\.id|v\.gd|clck\.ru|u\.to|surl\.li)/ nocase
    condition:
        part_kind == "message"
        and $x
}
