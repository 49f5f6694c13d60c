"""Harvest candidate passwords for encrypted attachments from the message's own text.

Phish sends an encrypted archive or document so that gateways cannot look inside, and
puts the password in the body ("Password: Inv2024", "Passwort lautet 4711", "mot de
passe : « abc »"). Each candidate remembers where it was found, so the alert can say
which password opened the file and where it came from.

Ranking matters: a key derivation on an ECMA-376 Agile file costs 0.1-0.17 s of CPU,
so only the few best candidates are tried (Limits.max_password_tries). Order: a value
right after a password keyword, then a quoted token near a keyword, then a number near
a keyword, then any quoted token, then the filename's digits.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from service.model import ParsedMessage, PartKind

MAX_CANDIDATES = 20
MAX_LEN = 64
MIN_LEN = 3
_TEXT_CAP = 200_000  # characters of each body searched: passwords sit near the top

# Keywords for "password" and friends in en, de, fr, es, pt, it, nl (and a few more).
_KEYWORDS = (
    r"pass(?:word|wort|wd|code|phrase)?|pwd|pw|kennwort|zugangscode|mot\s+de\s+passe|mdp"
    r"|contrase(?:ñ|n)a|clave|senha|palavra[\s-]passe|parola\s+(?:d'ordine|chiave)"
    r"|wachtwoord|code|codice|c(?:ó|o)digo|pin|kod|has(?:ł|l)o|heslo|salasana|l(?:ö|o)senord"
)
# Opening and closing quote characters: ASCII, typographic, guillemets, backtick.
_OPEN_Q = "\"'`\u201c\u201e\u00ab\u2039\u2018"
_CLOSE_Q = "\"'`\u201d\u00bb\u203a\u2019"
_QUOTES = _OPEN_Q + _CLOSE_Q
_VALUE = rf"[{_OPEN_Q}]?\s?(\S{{{MIN_LEN - 1},{MAX_LEN + 2}}})"
# "Password for the zip file: X" / "Passwort zum Öffnen = X": keyword, a few words, a colon.
_COLON_AFTER_KEYWORD = re.compile(
    rf"(?<![\w])(?:{_KEYWORDS})(?:[ \t]+[^\s:=]{{1,20}}){{0,4}}?[ \t]*[:=][ \t]*{_VALUE}",
    re.IGNORECASE,
)
# "Password is X", "Passwort lautet X", "mot de passe est X", "senha é X", "PIN 1234".
_FILLER = r"(?:is|ist|lautet|est|es|é|è|e|is\s+as\s+follows|wordt|will\s+be)"
_AFTER_KEYWORD = re.compile(
    rf"(?<![\w])(?:{_KEYWORDS})[ \t]+(?:{_FILLER}[ \t]+)?{_VALUE}", re.IGNORECASE,
)
_QUOTED = re.compile(
    rf"[{_OPEN_Q}]\s?([^\s{_QUOTES}]{{{MIN_LEN},{MAX_LEN}}})\s?[{_CLOSE_Q}]"
)
_KEYWORD = re.compile(rf"(?<![\w])(?:{_KEYWORDS})(?![\w])", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w])(\d{3,12})(?![\w])")
_NEAR = 80  # characters after a keyword where a number or quoted token counts as near
_TAGS = re.compile(r"<(?:script|style)\b.*?</(?:script|style)\s*>|<[^>]*>", re.I | re.S)
_STOPWORDS = frozenset({
    "is", "the", "ist", "est", "es", "der", "die", "das", "le", "la", "el", "o", "a",
    "for", "to", "your", "you", "und", "and", "et", "y", "e", "für", "pour", "para",
    "below", "unten", "ci-dessous", "abajo", "attached", "protected", "geschützt",
    "required", "please", "bitte", "will", "wird", "sera", "has", "have", "been", "was",
    "reset", "expired", "expires", "expire", "change", "update", "here", "hier", "ici",
    "per", "zum", "zur", "um", "om", "de", "del", "do", "da", "of", "file", "datei",
    "document", "dokument", "fichier", "archivo", "arquivo", "bestand", "zip", "pdf",
})


@dataclass(frozen=True, slots=True)
class Candidate:
    password: str
    source: str  # "body part 1", "subject", "filename part 2"
    score: int


def _clean(token: str) -> list[str]:
    """The token as written, and without trailing sentence punctuation if it had some."""
    token = token.strip().strip(_QUOTES)
    if token.endswith(":") or not token:  # a label such as "is:", not a value
        return []
    trimmed = token.rstrip(".,;:)!?")
    out = [token]
    if trimmed != token:
        # "4711." ends a sentence; "Summer2024!" is more likely the password itself.
        out = [trimmed, token] if token[-1] in ".,;:)" else [token, trimmed]
    return [t for t in out if MIN_LEN <= len(t) <= MAX_LEN and t.lower() not in _STOPWORDS]


def _from_text(text: str, source: str) -> list[Candidate]:
    text = text[:_TEXT_CAP]
    found: list[Candidate] = []
    for pattern, score in ((_COLON_AFTER_KEYWORD, 100), (_AFTER_KEYWORD, 90)):
        for m in pattern.finditer(text):
            for i, token in enumerate(_clean(m.group(1))):
                found.append(Candidate(token, source, score - i * 5))
    keyword_ends = [m.end() for m in _KEYWORD.finditer(text)]
    for m in _QUOTED.finditer(text):
        near = any(0 <= m.start() - end <= _NEAR for end in keyword_ends)
        for token in _clean(m.group(1)):
            found.append(Candidate(token, source, 80 if near else 30))
    for m in _NUMBER.finditer(text):
        if any(0 <= m.start() - end <= _NEAR for end in keyword_ends):
            found.append(Candidate(m.group(1), source, 60))
    return found


def _plain(text: str, kind: PartKind) -> str:
    if kind is PartKind.HTML:
        return html.unescape(_TAGS.sub(" ", text))
    return text


def harvest(msg: ParsedMessage) -> list[Candidate]:
    """Ranked, de-duplicated candidates (best first, at most MAX_CANDIDATES)."""
    found: list[Candidate] = []
    for body in msg.bodies:
        found.extend(_from_text(_plain(body.text, body.kind), f"body part {body.part_id}"))
    found.extend(_from_text(msg.subject, "subject"))
    for att in msg.attachments:
        if att.filename and att.depth == 0:
            stem = att.filename.rpartition(".")[0] or att.filename
            found.extend(_from_text(stem, f"filename part {att.part_id}"))
            found.extend(Candidate(n, f"filename part {att.part_id}", 20)
                         for n in _NUMBER.findall(stem))
    return rank(found)


def rank(found: list[Candidate]) -> list[Candidate]:
    best: dict[str, Candidate] = {}
    order: dict[str, int] = {}
    for i, cand in enumerate(found):
        order.setdefault(cand.password, i)
        if cand.password not in best or cand.score > best[cand.password].score:
            best[cand.password] = cand
    ranked = sorted(best.values(), key=lambda c: (-c.score, order[c.password]))
    return ranked[:MAX_CANDIDATES]
