"""Exchange journal reports: split the report, read its envelope, hand back the original.

A journal report is multipart/mixed: a text part whose lines are the envelope (one
field per line, per Microsoft's "journal report body" format) and the original message
attached unaltered as message/rfc822. The envelope is the only place Bcc recipients and
distribution-list members appear, so it is read liberally: any key case, CRLF or LF,
extra spaces, a quoted-printable or base64 envelope part, an Exchange 2003 style
"Recipients:" list.

Recipient lines are `<Type>: <address>[, Expanded: <list>|, Forwarded: <address>]`.
Per Microsoft's format the first address is the mailbox that got the copy; the
Expanded/Forwarded value is the list or original recipient it came through (`via`).
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parseaddr

from service.model import Recipient, RecipientSource

HEADER = "x-ms-journal-report"
MAX_ENVELOPE_CHARS = 1024 * 1024  # a report naming 10k recipients stays well below this

_KEYS: dict[str, RecipientSource] = {
    "to": RecipientSource.TO,
    "cc": RecipientSource.CC,
    "bcc": RecipientSource.BCC,
    "recipient": RecipientSource.RECIPIENT,
    "recipients": RecipientSource.RECIPIENT,
    "envelope-to": RecipientSource.RECIPIENT,
}
_REDIRECT: dict[str, RecipientSource] = {
    "expanded": RecipientSource.EXPANDED,
    "forwarded": RecipientSource.FORWARDED,
}
_LINE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9-]{0,40})\s*:\s*(.*?)\s*$")
_REDIRECT_TOKEN = re.compile(r"^\s*(expanded|forwarded)\s*:\s*(.*)$", re.IGNORECASE)
_ADDR = re.compile(r"[^\s<>\"',;:()\[\]]+@[^\s<>\"',;:()\[\]]+")
_BLANK = re.compile(rb"\r?\n\r?\n")


@dataclass(frozen=True, slots=True)
class JournalEnvelope:
    sender: str | None
    subject: str | None
    message_id: str | None
    recipients: tuple[Recipient, ...]


def address(token: str) -> str | None:
    """The lowercased addr-spec in `token` ("Name <a@b>", "<a@b>", "a@b"), or None."""
    token = token.strip()
    if not token or len(token) > 1024:
        return None
    try:
        addr = parseaddr(token)[1]
    except Exception:  # hostile input; fall back to the regex below
        addr = ""
    if "@" not in addr:
        m = _ADDR.search(token)
        addr = m.group(0) if m else ""
    addr = addr.strip().strip("<>").lower()
    return addr or None


def _recipients(source: RecipientSource, value: str) -> list[Recipient]:
    out: list[Recipient] = []
    for token in value.split(","):
        redirect = _REDIRECT_TOKEN.match(token)
        if redirect is not None:
            if out:
                via = address(redirect.group(2))
                last = out.pop()
                out.append(Recipient(last.address, _REDIRECT[redirect.group(1).lower()], via))
            continue
        addr = address(token)
        if addr is not None:
            out.append(Recipient(addr, source))
    return out


def parse_envelope(text: str) -> JournalEnvelope:
    """The envelope fields of a report's text part; unknown lines are ignored."""
    sender: str | None = None
    subject: str | None = None
    message_id: str | None = None
    recipients: dict[str, Recipient] = {}
    for line in text[:MAX_ENVELOPE_CHARS].splitlines():
        m = _LINE.match(line)
        if m is None:
            continue
        key, value = m.group(1).lower(), m.group(2)
        if key == "sender" and sender is None:
            sender = address(value)
        elif key == "subject" and subject is None:
            subject = value
        elif key == "message-id" and message_id is None:
            message_id = value or None
        elif key in _KEYS:
            for r in _recipients(_KEYS[key], value):
                recipients.setdefault(r.address, r)
    return JournalEnvelope(sender, subject, message_id, tuple(recipients.values()))


@dataclass(frozen=True, slots=True)
class ReportParts:
    envelope_text: str | None
    original: bytes | None


def _decode(body: bytes, cte: str) -> bytes:
    cte = cte.strip().lower()
    try:
        if cte == "base64":
            return binascii.a2b_base64(body)
        if cte == "quoted-printable":
            return binascii.a2b_qp(body)
    except (binascii.Error, ValueError):
        pass
    return body


def _text(data: bytes, charset: str | None) -> str:
    for name in (charset, "utf-8"):
        if name:
            try:
                return data.decode(name)
            except (LookupError, UnicodeError, ValueError):
                continue
    return data.decode("latin-1")


def split_report(body: bytes, boundary: str) -> ReportParts:
    """The envelope text and the original's bytes from a report's multipart body."""
    delimiter = re.compile(
        rb"(?m)^--" + re.escape(boundary.encode("utf-8", "replace")) + rb"(--)?[ \t]*\r?$"
    )
    marks = list(delimiter.finditer(body))
    envelope_text: str | None = None
    original: bytes | None = None
    for start, end in zip(marks, [*marks[1:], None], strict=False):
        if start.group(1):  # the closing delimiter
            break
        chunk = body[start.end():end.start() if end is not None else len(body)]
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk[1:]
        sep = _BLANK.search(chunk)
        head, part = (chunk[:sep.start()], chunk[sep.end():]) if sep else (chunk, b"")
        if part.endswith(b"\r\n"):  # the line break before the next delimiter
            part = part[:-2]
        elif part.endswith(b"\n"):
            part = part[:-1]
        headers = BytesHeaderParser(policy=compat32).parsebytes(head + b"\r\n\r\n")
        ctype = headers.get_content_type()
        cte = str(headers.get("content-transfer-encoding", ""))
        filename = str(headers.get_filename("") or "").lower()
        if original is None and (ctype == "message/rfc822" or filename.endswith(".eml")):
            original = _decode(part, cte)
        elif envelope_text is None and ctype.startswith("text/"):
            envelope_text = _text(_decode(part, cte), headers.get_content_charset())
    return ReportParts(envelope_text, original)
