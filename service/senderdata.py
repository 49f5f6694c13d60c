"""Sender checks' reference data and parsers: brands, free-mail domains, Authentication-Results.

The lists are data files the security team edits (service/data/brands.yaml,
service/data/freemail_domains.txt, or files named in the scanner's options); each is
read once per process and path.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from service.lookalike import in_domain, skeleton

DATA_DIR = Path(__file__).parent / "data"
BRANDS_FILE = DATA_DIR / "brands.yaml"
FREEMAIL_FILE = DATA_DIR / "freemail_domains.txt"

# Short suffix labels that may follow a "name.*" brand domain (paypal.de, paypal.com.br).
_SUFFIX_LABEL = re.compile(r"^[a-z]{2,3}$")
_WORD = re.compile(r"[^\W_]+")
_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"^\s*([a-z0-9_-]+)\s*=\s*([a-z0-9_-]+)", re.IGNORECASE)
# Results a receiver writes for a message that failed the check (RFC 8601; compauth is
# Exchange Online's composite verdict, its implicit DMARC).
_FAILED = {"spf": {"fail"}, "dkim": {"fail"}, "dmarc": {"fail"}, "compauth": {"fail"}}
MAX_AUTH_HEADERS = 8
MAX_AUTH_CHARS = 8192


class DataFileError(ValueError):
    """A brand or domain list file is unreadable or malformed; the message names it."""


@dataclass(frozen=True, slots=True)
class Brand:
    key: str
    names: tuple[str, ...]  # skeletons of the words a display name uses
    domains: tuple[str, ...]

    def owns(self, domain: str) -> bool:
        labels = domain.lower().strip(".").split(".")
        for d in self.domains:
            if d.endswith(".*"):
                stem = d[:-2]
                # "paypal.*": a label equal to the stem, followed only by suffix labels.
                for i, label in enumerate(labels):
                    if label == stem and i < len(labels) - 1 and all(
                            _SUFFIX_LABEL.match(x) for x in labels[i + 1:]):
                        return True
            elif in_domain(domain, d):
                return True
        return False


def words(text: str) -> list[str]:
    return _WORD.findall(skeleton(text))


def _phrase_in(name_words: list[str], display_words: list[str]) -> bool:
    n = len(name_words)
    return any(display_words[i:i + n] == name_words for i in range(len(display_words) - n + 1))


def _spellings(dwords: list[str]) -> set[str]:
    """Words, adjacent pairs run together ("Meta Mask"), and letter-spaced runs ("C o i n")."""
    out = set(dwords)
    out.update(a + b for a, b in itertools.pairwise(dwords))
    run: list[str] = []
    for w in [*dwords, ""]:
        if len(w) == 1:
            run.append(w)
            continue
        if len(run) >= 3:
            out.add("".join(run))
        run = []
    return out


def brand_named(display: str, brands: tuple[Brand, ...]) -> tuple[Brand, str] | None:
    """The brand a display name names, and the name it used; whole words only."""
    if not display:
        return None
    dwords = words(display)
    spellings = _spellings(dwords)
    for brand in brands:
        for name in brand.names:
            nwords = name.split()
            if _phrase_in(nwords, dwords) or "".join(nwords) in spellings:
                return brand, name
    return None


@functools.cache
def load_brands(path: str | None = None) -> tuple[Brand, ...]:
    where = Path(path) if path else BRANDS_FILE
    try:
        data = yaml.safe_load(where.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DataFileError(f"brand list {where}: {exc}") from None
    if not isinstance(data, dict):
        raise DataFileError(f"brand list {where}: expected a mapping of brand -> names, domains")
    out = []
    for key, entry in data.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("names"), list) \
                or not isinstance(entry.get("domains"), list):
            raise DataFileError(f"brand list {where}: {key}: needs `names` and `domains` lists")
        names = tuple(" ".join(words(str(n))) for n in entry["names"] if words(str(n)))
        domains = tuple(str(d).strip().lower() for d in entry["domains"] if str(d).strip())
        out.append(Brand(str(key), names, domains))
    return tuple(out)


@functools.cache
def load_domain_list(path: str | None = None) -> frozenset[str]:
    where = Path(path) if path else FREEMAIL_FILE
    try:
        lines = where.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataFileError(f"domain list {where}: {exc.strerror}") from None
    return frozenset(s.strip().lower() for s in lines
                     if s.strip() and not s.lstrip().startswith("#"))


@dataclass(frozen=True, slots=True)
class AuthResult:
    method: str  # spf | dkim | dmarc | compauth
    result: str
    text: str  # the clause as written, for evidence


def authserv_id(value: str) -> str | None:
    """The first token, unless it is already a result (Exchange Online omits the id)."""
    head = _COMMENT.sub(" ", value.split(";", 1)[0]).strip()
    if not head or "=" in head:
        return None
    return head.split()[0].lower()


def parse_auth_results(value: str) -> list[AuthResult]:
    text = value[:MAX_AUTH_CHARS]
    # Comments may nest and may hold ";": drop them innermost first, a bounded number of times.
    for _ in range(5):
        stripped = _COMMENT.sub(" ", text)
        if stripped == text:
            break
        text = stripped
    clauses = text.split(";")
    if authserv_id(value) is not None:
        clauses = clauses[1:]
    out = []
    for clause in clauses:
        m = _RESULT.match(clause)
        if m and m.group(1).lower() in _FAILED:
            out.append(AuthResult(m.group(1).lower(), m.group(2).lower(),
                                  " ".join(clause.split())[:120]))
    return out


def selected_auth_results(values: list[str], authserv_ids: tuple[str, ...]) -> list[AuthResult]:
    """Results from our own boundary: the configured authserv-ids, else the topmost header.

    Headers lower down were written by systems we do not control (or by the sender):
    trusting them would let a phish vouch for itself.
    """
    if not values:
        return []
    if authserv_ids:
        wanted = {a.lower() for a in authserv_ids}
        chosen = [v for v in values[:MAX_AUTH_HEADERS] if authserv_id(v) in wanted]
    else:
        chosen = values[:1]
    return [r for v in chosen for r in parse_auth_results(v)]


def failures(results: list[AuthResult]) -> dict[str, AuthResult]:
    """method -> failing result; a method that also passed (another DKIM signature) is kept
    out, since one good signature is enough."""
    passed = {r.method for r in results if r.result == "pass"}
    out: dict[str, AuthResult] = {}
    for r in results:
        if r.result in _FAILED[r.method] and r.method not in passed:
            out.setdefault(r.method, r)
    return out
