"""Is this domain a lookalike of one we protect: punycode, homoglyphs, typos, combosquats.

Pure string work, shared by the sender and URL scanners. A domain is compared with each
protected domain on its registrable part (`base_domain`, an approximation of the Public
Suffix List that needs no data file): its *skeleton* (IDNA decoded, NFKC, case-folded,
diacritics stripped, a subset of Unicode confusables and ASCII look-alike sequences
such as `rn`->`m` folded) equal to the protected one's is a homoglyph; a
Damerau-Levenshtein distance of 1 (2 for names of 9+ characters) is a typo; the
protected name as a whole hyphen- or dot-separated token of another domain is a
combosquat (`corp-example-login.com`, `corp.example.evil.net`).

Limitations: `base_domain` knows the common two-level suffixes (`co.uk`, `com.br`, ...)
but not the whole PSL; the confusables table is a subset (Latin, Cyrillic, Greek and
digits), enough for the homographs seen in phishing but not every script.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# Two-level public suffixes are "<one of these>.<country code>".
_SECOND_LEVEL = frozenset({"co", "com", "net", "org", "gov", "edu", "ac", "ne", "or", "go",
                           "gob", "mil", "nic", "ltd", "plc", "sch", "nom", "gen", "biz"})

# Single code points that render like ASCII letters (subset of Unicode confusables.txt).
# Written as escapes so the source itself holds no confusable characters: Cyrillic,
# Greek and Latin letters that render like ASCII ones, then digits and punctuation.
_CONFUSABLES = str.maketrans({
    "\u0430": "a", "\u0432": "b", "\u0435": "e", "\u0451": "e", "\u04bb": "h", "\u0456": "i",
    "\u0457": "i", "\u0458": "j", "\u043a": "k", "\u043c": "m", "\u043d": "h", "\u043e": "o",
    "\u0440": "p", "\u0441": "c", "\u0442": "t", "\u0443": "y", "\u0445": "x", "\u0455": "s",
    "\u0501": "d", "\u051b": "q", "\u051d": "w", "\u0261": "g", "\u04cf": "l", "\u044c": "b",
    "\u03b1": "a", "\u03b2": "b", "\u03b5": "e", "\u03b7": "n", "\u03b9": "i", "\u03ba": "k",
    "\u03bd": "v", "\u03bf": "o", "\u03c1": "p", "\u03c4": "t", "\u03c5": "u", "\u03c7": "x",
    "\u03c9": "w", "\u03b3": "y", "\u0131": "i", "\u0142": "l", "\u00f8": "o", "\u0111": "d",
    "\u0127": "h", "\u0140": "l", "\u017f": "s", "0": "o", "1": "l", "3": "e",
    "5": "s", "@": "a", "|": "l", "!": "i", "_": "-",
})
# ASCII sequences that read as one letter at a glance, applied after the table.
_SEQUENCES = (("rn", "m"), ("vv", "w"), ("cl", "d"), ("ii", "u"), ("i", "l"))


def idna_decode(label: str) -> str:
    """`xn--` labels to Unicode; anything undecodable stays as written."""
    if not label.startswith("xn--"):
        return label
    try:
        return label[4:].encode("ascii").decode("punycode")
    except (UnicodeError, ValueError):
        return label


def unicode_domain(domain: str) -> str:
    return ".".join(idna_decode(p) for p in domain.strip().strip(".").lower().split("."))


def skeleton(text: str) -> str:
    """What a human sees: one canonical spelling for strings that look alike."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(c for c in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(c))
    text = text.translate(_CONFUSABLES)
    for seq, repl in _SEQUENCES:
        text = text.replace(seq, repl)
    return text


def base_domain(domain: str) -> str:
    """The registrable part: `a.b.corp.co.uk` -> `corp.co.uk`, `mail.corp.com` -> `corp.com`."""
    labels = [p for p in domain.strip().strip(".").lower().split(".") if p]
    if len(labels) <= 2:
        return ".".join(labels)
    if len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def name_part(domain: str) -> str:
    """The registrable name without its suffix: `corp.co.uk` -> `corp`."""
    base = base_domain(domain)
    return base.split(".", 1)[0]


def in_domain(domain: str, parent: str) -> bool:
    domain, parent = domain.lower().strip("."), parent.lower().strip(".")
    return domain == parent or domain.endswith("." + parent)


def damerau_levenshtein(a: str, b: str, limit: int = 3) -> int:
    """Optimal-string-alignment distance, giving up (returning limit + 1) past `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


@dataclass(frozen=True, slots=True)
class Lookalike:
    target: str  # the protected domain it imitates
    kind: str  # punycode | homoglyph | typo | combosquat
    domain: str  # the domain as seen (Unicode form when it was punycode)


def _max_distance(name: str) -> int:
    return 2 if len(name) >= 9 else 1


def lookalike_of(domain: str, protected: tuple[str, ...] | list[str],
                 combosquat: bool = True) -> Lookalike | None:
    """The first protected domain that `domain` imitates without being it, or None.

    Names shorter than 4 characters are only compared by skeleton: a one-letter typo of
    a three-letter name is a different, ordinary name far too often.
    """
    domain = domain.strip().strip(".").lower()
    if not domain or "." not in domain:
        return None
    shown = unicode_domain(domain)
    base = base_domain(shown)
    name = base.split(".", 1)[0]
    punycode = shown != domain
    for target in protected:
        target = target.strip().strip(".").lower()
        if not target or in_domain(domain, target):
            continue
        t_shown = unicode_domain(target)
        t_base = base_domain(t_shown)
        t_name = t_base.split(".", 1)[0]
        if in_domain(shown, t_shown):
            continue
        if skeleton(base) == skeleton(t_base) or (
                skeleton(name) == skeleton(t_name) and len(t_name) >= 4):
            return Lookalike(target, "punycode" if punycode else "homoglyph", shown)
        if len(t_name) >= 4 and name != t_name:
            limit = _max_distance(t_name)
            if damerau_levenshtein(name, t_name, limit) <= limit:
                return Lookalike(target, "punycode" if punycode else "typo", shown)
        if combosquat and len(t_name) >= 5:
            tokens = shown.replace("-", ".").split(".")
            if t_name in tokens or skeleton(t_name) in (skeleton(t) for t in tokens):
                return Lookalike(target, "combosquat", shown)
    return None
