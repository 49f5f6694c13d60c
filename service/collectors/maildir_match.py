"""Decide from a raw header block whether a mailbox copy is the message a verdict names.

Message-ID must match exactly; From, Subject and Date must agree too (a None in the
identity is not checked), because a crafted journal report can name any Message-ID.
Values are compared after unfolding and collapsing whitespace, both as written and
RFC 2047-decoded, so an identity taken from a parsed message matches the raw copy.
"""

from __future__ import annotations

import re
from email.header import decode_header, make_header
from email.utils import getaddresses, mktime_tz, parsedate_tz

from service.collectors.base import MessageIdentity

_FOLD = re.compile(r"\r?\n(?=[ \t])")
_WANTED = frozenset({"message-id", "from", "subject", "date"})


def _norm(value: str) -> str:
    return " ".join(value.split())


def _bare_id(value: str) -> str:
    value = _norm(value)
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1].strip()
    return value


def _decoded(value: str) -> str:
    try:
        return _norm(str(make_header(decode_header(value))))
    except Exception:  # hostile encoded-words: compare as written only
        return _norm(value)


def _forms(value: str) -> set[str]:
    return {_norm(value), _decoded(value)}


def _addresses(value: str) -> frozenset[str]:
    try:
        pairs = getaddresses([_decoded(value)])
    except Exception:
        return frozenset()
    return frozenset(addr.lower() for _, addr in pairs if "@" in addr)


def _timestamp(value: str) -> int | None:
    try:
        parsed = parsedate_tz(_norm(value))
        return mktime_tz(parsed) if parsed else None
    except (TypeError, ValueError, OverflowError):
        return None


def parse_headers(block: bytes) -> dict[str, str]:
    """First occurrence of each wanted header, unfolded; other headers are ignored."""
    text = _FOLD.sub("", block.decode("utf-8", errors="replace"))
    out: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        key = name.strip().lower()
        if sep and key in _WANTED and key not in out:
            out[key] = value.strip()
    return out


class HeaderMatcher:
    """Built once per identity; matches() is called for every file in a mailbox."""

    def __init__(self, ident: MessageIdentity) -> None:
        self._ident = ident
        self._mid = _bare_id(ident.message_id)
        # Message-IDs contain no whitespace, so a folded header still holds these bytes.
        self._needle = self._mid.encode("utf-8", errors="replace")
        self._from_forms = _forms(ident.from_header) if ident.from_header is not None else None
        self._from_addrs = (_addresses(ident.from_header)
                            if ident.from_header is not None else frozenset())
        self._subject_forms = _forms(ident.subject) if ident.subject is not None else None
        self._date = ident.date
        self._date_ts = _timestamp(ident.date) if ident.date is not None else None

    def matches(self, block: bytes) -> bool:
        if not self._mid or self._needle not in block:
            return False
        headers = parse_headers(block)
        mid = headers.get("message-id")
        if mid is None or _bare_id(mid) != self._mid:
            return False
        return self._from_ok(headers) and self._subject_ok(headers) and self._date_ok(headers)

    def _from_ok(self, headers: dict[str, str]) -> bool:
        if self._from_forms is None:
            return True
        value = headers.get("from")
        if value is None:
            return False
        if _forms(value) & self._from_forms:
            return True
        # The identity may hold only the address; display names are not the guard.
        return bool(self._from_addrs) and _addresses(value) == self._from_addrs

    def _subject_ok(self, headers: dict[str, str]) -> bool:
        if self._subject_forms is None:
            return True
        return bool(_forms(headers.get("subject", "")) & self._subject_forms)

    def _date_ok(self, headers: dict[str, str]) -> bool:
        if self._date is None:
            return True
        value = headers.get("date")
        if value is None:
            return False
        if _norm(value) == _norm(self._date):
            return True
        ts = _timestamp(value)
        return ts is not None and ts == self._date_ts
