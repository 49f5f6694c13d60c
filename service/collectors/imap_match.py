"""Deciding that a mailbox copy is the message to remove: exact Message-ID, From, Subject, Date.

IMAP SEARCH HEADER is a substring match and a journal report can be forged, so every
search hit is confirmed here before anything moves.
"""

from __future__ import annotations

import email.utils
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

import imapclient

from service.collectors.base import MessageIdentity

FIELDS = ("MESSAGE-ID", "FROM", "SUBJECT", "DATE")
MAX_IDS_PER_SEARCH = 32  # bounds the SEARCH line and the depth of its OR nesting
_FIELD_LIST = " ".join(FIELDS)


def header_fetch_item() -> str:
    return f"BODY.PEEK[HEADER.FIELDS ({_FIELD_LIST})]"


def msgid_core(value: str | None) -> str:
    """"<local@domain>" without brackets or whitespace; "" when unusable for a search."""
    if not value:
        return ""
    core = "".join(value.split()).strip("<>")
    if not core or not core.isprintable():
        return ""
    return core


def msgid_equal(a: str | None, b: str | None) -> bool:
    """Local part compared exactly, domain case-insensitively (RFC 5322 semantics)."""
    ca, cb = msgid_core(a), msgid_core(b)
    if not ca or not cb:
        return False
    la, _, da = ca.rpartition("@")
    lb, _, db = cb.rpartition("@")
    return la == lb and da.lower() == db.lower()


def _text(value: str | None) -> str:
    """Decoded (RFC 2047) and whitespace-collapsed, so both sides compare alike."""
    if value is None:
        return ""
    try:
        decoded = str(make_header(decode_header(value)))
    except Exception:  # hostile encodings: fall back to the raw text
        decoded = value
    return " ".join(decoded.split())


def _from_equal(want: str, got: str | None) -> bool:
    a, b = _text(want), _text(got)
    if a == b:
        return True
    name_a, addr_a = email.utils.parseaddr(a)
    name_b, addr_b = email.utils.parseaddr(b)
    return bool(addr_a) and addr_a.lower() == addr_b.lower() and name_a == name_b


def _date_equal(want: str, got: str | None) -> bool:
    a, b = _text(want), _text(got)
    if a == b:
        return True
    try:
        return email.utils.parsedate_to_datetime(a) == email.utils.parsedate_to_datetime(b)
    except (TypeError, ValueError, IndexError):
        return False


def parse_headers(fetched: dict[bytes, Any]) -> dict[str, str]:
    """The fetched header fields by canonical name; a repeated field makes it ambiguous."""
    raw = b""
    for key, value in fetched.items():
        if key.upper().startswith(b"BODY[HEADER.FIELDS") and isinstance(value, bytes):
            raw = value
            break
    msg = BytesHeaderParser(policy=compat32).parsebytes(raw)
    out: dict[str, str] = {}
    for name in ("Message-ID", "From", "Subject", "Date"):
        values = msg.get_all(name) or []
        if len(values) == 1:
            out[name] = str(values[0])
    return out


def confirm(fetched: dict[bytes, Any], ident: MessageIdentity) -> bool:
    """True only when Message-ID matches exactly and every given field agrees."""
    return confirm_headers(parse_headers(fetched), ident)


def confirm_headers(headers: dict[str, str], ident: MessageIdentity) -> bool:
    """confirm() on headers already parsed: one parse serves every identity in a batch."""
    if not msgid_equal(headers.get("Message-ID"), ident.message_id):
        return False
    if ident.from_header is not None and not _from_equal(ident.from_header, headers.get("From")):
        return False
    if ident.subject is not None and _text(ident.subject) != _text(headers.get("Subject")):
        return False
    return ident.date is None or _date_equal(ident.date, headers.get("Date"))


def message_id_criteria(cores: list[str]) -> tuple[list[str], str | None]:
    """(SEARCH criteria, charset) matching any of cores: one command for a whole batch.

    OR is binary in IMAP, so n ids nest as "OR a OR b c". A substring match, like any
    HEADER search: callers confirm every hit.
    """
    if not cores:
        raise ValueError("no Message-ID to search for")
    criteria: list[str] = []
    for core in cores[:-1]:
        criteria += ["OR", "HEADER", "Message-ID", core]
    criteria += ["HEADER", "Message-ID", cores[-1]]
    return criteria, None if all(c.isascii() for c in cores) else "UTF-8"


def search_confirmed(client: imapclient.IMAPClient, idents: list[MessageIdentity],
                     ) -> dict[int, list[int]]:
    """In the selected folder: UID -> indexes of the idents that copy is confirmed as.

    One SEARCH and one FETCH per MAX_IDS_PER_SEARCH identities, headers parsed once per
    hit. SEARCH HEADER is a substring match, so nothing counts until confirmed.
    """
    out: dict[int, list[int]] = {}
    for start in range(0, len(idents), MAX_IDS_PER_SEARCH):
        part = list(enumerate(idents[start:start + MAX_IDS_PER_SEARCH], start))
        cores = list(dict.fromkeys(msgid_core(ident.message_id) for _, ident in part))
        criteria, charset = message_id_criteria([c for c in cores if c])
        uids = sorted(client.search(criteria, charset=charset))
        if not uids:
            continue
        data = client.fetch(uids, [header_fetch_item()])
        for uid in uids:
            if uid in data:
                headers = parse_headers(data[uid])
                hits = [i for i, ident in part if confirm_headers(headers, ident)]
                if hits:
                    out.setdefault(uid, []).extend(hits)
    return out


def search_message_id(client: imapclient.IMAPClient, message_id: str) -> list[int]:
    """UIDs in the selected folder whose Message-ID is exactly message_id."""
    core = msgid_core(message_id)
    if not core:
        return []
    criteria, charset = message_id_criteria([core])
    hits = sorted(client.search(criteria, charset=charset))
    if not hits:
        return []
    data = client.fetch(hits, [header_fetch_item()])
    return [u for u in hits if u in data
            and msgid_equal(parse_headers(data[u]).get("Message-ID"), message_id)]


def _uid_set(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition(":")
        a = int(lo)
        b = int(hi) if hi else a
        out.extend(range(min(a, b), max(a, b) + 1))
    return out


def parse_copyuid(codes: list[Any]) -> tuple[int, dict[int, int]]:
    """From "COPYUID <uidvalidity> <source set> <dest set>" codes: (uidvalidity, old->new)."""
    validity = 0
    mapping: dict[int, int] = {}
    for code in codes:
        text = code.decode("ascii", "replace") if isinstance(code, bytes) else str(code)
        parts = text.split()
        if len(parts) != 3:
            continue
        try:
            src, dst = _uid_set(parts[1]), _uid_set(parts[2])
            validity = int(parts[0])
        except ValueError:
            continue
        if len(src) == len(dst):
            mapping.update(zip(src, dst, strict=True))
    return validity, mapping
