"""Raw bytes to ParsedMessage: journal-report unwrap, parts, bodies, attachments, limits.

`parse()` never raises: defects and limits become findings. It uses the stdlib's
compat32 parser (twice as fast as policy.default, and without its per-access cost on
malformed headers) and decodes each part once. Two cheap byte-level passes run before
the stdlib parser sees the input, because its costs are not bounded by our limits:

- a part whose encoded body exceeds `max_part_bytes` is cut to a short prefix (enough
  to sniff) and tagged with a per-parse random header, so a 50 MB attachment costs
  milliseconds; it becomes an Attachment with its metadata, an estimated size,
  `data=b""`, `sha256=""` and a PART_TOO_LARGE finding;
- multipart nesting deeper than `_max_nesting(limits)` is cut where it passes the
  limit (the stdlib checks every line against every open boundary: quadratic, and
  recursive).

A message over `max_message_bytes` is parsed from its first `max_message_bytes`
(MESSAGE_TOO_LARGE); `raw` still holds all of it for the byte-level scanners.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser
from email.policy import Compat32
from typing import Any

from service import journal
from service.config import Limits
from service.mime_headers import (
    addresses,
    decode_header_value,
    decode_text,
    first_address,
    header_block,
    header_items,
    strip_mbox,
)
from service.model import (
    Attachment,
    BodyPart,
    Code,
    Envelope,
    Finding,
    ParsedMessage,
    PartKind,
    Recipient,
    RecipientSource,
    Severity,
    bounded_evidence,
)
from service.sniff import sniff
from service.urlextract import UrlCollector

SCANNER = "mime"
MAX_FINDINGS = 50
MAX_PARAM_HEADER = 4096  # Content-Type/-Disposition longer than this are cut before use
SNIFF_PREFIX = 8192  # encoded bytes kept of an elided part, enough to sniff its type
_SEVERITY = {
    Code.MIME_DEFECT: Severity.INFO,
    Code.PART_TOO_LARGE: Severity.LOW,
    Code.MESSAGE_TOO_LARGE: Severity.LOW,
    Code.JOURNAL_REPORT_MALFORMED: Severity.LOW,
    Code.MIME_TOO_DEEP: Severity.MEDIUM,
    Code.TOO_MANY_ATTACHMENTS: Severity.MEDIUM,
}
_PLAIN_RECIPIENTS = (
    ("to", RecipientSource.TO),
    ("cc", RecipientSource.CC),
    ("delivered-to", RecipientSource.DELIVERED_TO),
    ("x-original-to", RecipientSource.ORIGINAL_TO),
)
_BOUNDARY_DECL = re.compile(rb'boundary\s*=\s*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))', re.I)
_JOURNAL_HEADER = re.compile(rb"(?im)^x-ms-journal-report[ \t]*:")
_DELIMITER = re.compile(rb"(?m)^--([^\r\n]{1,202}?)[ \t]*\r?$")


class _Policy(Compat32):
    """compat32 whose Content-Type/-Disposition reads are bounded.

    The stdlib's parameter parsing is quadratic in the header length and the parser
    itself reads the boundary while parsing; a real phish folds its whole HTML body into
    Content-Type. Reads see the first line only; raw_items() keeps the full value.
    """

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if len(value) > MAX_PARAM_HEADER and name.lower() in _PARAM_HEADERS:
            value = value.partition("\n")[0].strip()[:MAX_PARAM_HEADER] or "text/plain"
        return super().header_fetch_parse(name, value)


_POLICY = _Policy()
_PARAM_HEADERS = ("content-type", "content-disposition")


def _max_nesting(limits: Limits) -> int:
    # Legit mail nests multiparts ~4 deep per message layer; the stdlib recurses ~250.
    return min(4 * max(limits.max_depth, 1) + 4, 120)


@dataclass
class _Ctx:
    limits: Limits
    nonce: str
    findings: list[Finding] = field(default_factory=list)
    bodies: list[BodyPart] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    urls: UrlCollector = field(default_factory=UrlCollector)
    seen_codes: set[Code] = field(default_factory=set)
    elided: bool = False  # whether any part carries the nonce header

    def find(self, code: Code, part: str | None, *evidence: str, once: bool = False) -> None:
        if (once and code in self.seen_codes) or len(self.findings) >= MAX_FINDINGS:
            return
        self.seen_codes.add(code)
        self.findings.append(Finding(scanner=SCANNER, code=code, severity=_SEVERITY[code],
                                     part=part, evidence=bounded_evidence(list(evidence))))


def parse(raw: bytes, limits: Limits = Limits()) -> ParsedMessage:  # noqa: B008 - frozen
    """Parse one message; never raises (defects and limits become findings)."""
    try:
        return _parse(bytes(raw), limits)
    except Exception as exc:  # the contract is: never raise on input
        return _broken(bytes(raw) if isinstance(raw, bytes | bytearray) else b"", exc)


def _broken(raw: bytes, exc: BaseException) -> ParsedMessage:
    finding = Finding(scanner=SCANNER, code=Code.MIME_DEFECT, severity=Severity.INFO,
                      evidence=bounded_evidence([f"parser failed: {type(exc).__name__}"]))
    return ParsedMessage(
        raw=raw, header_block=header_block(raw), headers=(),
        envelope=Envelope(None, (), None, None, False), message_id=None, subject="",
        from_address=None, from_display=None, date=None, bodies=(), attachments=(),
        urls=(), findings=(finding,))


def _parse(raw: bytes, limits: Limits) -> ParsedMessage:
    ctx = _Ctx(limits=limits, nonce="X-Trawler-Elided-" + secrets.token_hex(8))
    data = strip_mbox(raw)
    if len(data) > limits.max_message_bytes:
        ctx.find(Code.MESSAGE_TOO_LARGE, None, f"{len(data)} bytes",
                 f"parsed first {limits.max_message_bytes}")
        data = data[:limits.max_message_bytes]
    scanned, jenv = data, None
    head = header_block(data)
    if _JOURNAL_HEADER.search(head):
        outer = BytesHeaderParser(policy=_POLICY).parsebytes(head)
        if journal.HEADER in outer:
            scanned, jenv = _unwrap(data, outer, ctx)
    msg = _stdlib_parse(scanned, ctx)
    _walk_entity(msg, "", 0, 0, ctx)
    headers = tuple((k, v) for k, v in header_items(msg) if k != ctx.nonce)
    from_address, from_display = first_address(msg.get_all("from") or [])
    subject = _header(msg, "subject") or ""
    message_id = _header(msg, "message-id")
    envelope = _envelope(msg, from_address, jenv, ctx)
    return ParsedMessage(
        raw=scanned if jenv is not None else raw, header_block=header_block(scanned),
        headers=headers, envelope=envelope, message_id=message_id, subject=subject,
        from_address=from_address, from_display=from_display, date=_header(msg, "date"),
        bodies=tuple(ctx.bodies), attachments=tuple(ctx.attachments), urls=ctx.urls.urls(),
        findings=tuple(ctx.findings))


def _header(msg: Message, name: str) -> str | None:
    value = msg.get(name)
    if value is None:
        return None
    return decode_header_value(str(value)).strip() or None


def _unwrap(data: bytes, outer: Message, ctx: _Ctx) -> tuple[bytes, journal.JournalEnvelope | None]:
    """The journaled original and its envelope, or the report itself when malformed."""
    _cap_param_headers(outer, "", ctx)
    boundary = outer.get_boundary()
    parts = None
    if boundary:
        body = data[len(header_block(data)):]
        parts = journal.split_report(body, boundary)
    if parts is None or parts.original is None:
        ctx.find(Code.JOURNAL_REPORT_MALFORMED, None, "no attached original message")
        return data, None
    return strip_mbox(parts.original), journal.parse_envelope(parts.envelope_text or "")


def _envelope(msg: Message, from_address: str | None,
              jenv: journal.JournalEnvelope | None, ctx: _Ctx) -> Envelope:
    if jenv is not None:
        recipients = jenv.recipients
        if not recipients:
            ctx.find(Code.JOURNAL_REPORT_MALFORMED, None, "envelope names no recipient")
            recipients = _plain_recipients(msg)
        return Envelope(sender=jenv.sender or from_address, recipients=recipients,
                        message_id=jenv.message_id or _header(msg, "message-id"),
                        subject=jenv.subject if jenv.subject is not None
                        else _header(msg, "subject"),
                        journaled=True)
    sender = from_address
    if sender is None:
        sender = next(iter(addresses(msg.get_all("return-path") or [])), None)
    return Envelope(sender=sender, recipients=_plain_recipients(msg),
                    message_id=_header(msg, "message-id"), subject=_header(msg, "subject"),
                    journaled=False)


def _plain_recipients(msg: Message) -> tuple[Recipient, ...]:
    seen: dict[str, Recipient] = {}
    for name, source in _PLAIN_RECIPIENTS:
        for addr in addresses(msg.get_all(name) or []):
            seen.setdefault(addr, Recipient(addr, source))
    return tuple(seen.values())


def _stdlib_parse(data: bytes, ctx: _Ctx) -> Message:
    cut = _deep_cut(data, _max_nesting(ctx.limits))
    if cut is not None:
        ctx.find(Code.MIME_TOO_DEEP, None, f"multipart nesting over {_max_nesting(ctx.limits)}",
                 once=True)
        data = data[:cut]
    data = _elide(data, ctx)
    try:
        return BytesParser(policy=_POLICY).parsebytes(data)
    except RecursionError:
        ctx.find(Code.MIME_TOO_DEEP, None, "nesting exhausted the parser", once=True)
        return BytesParser(policy=_POLICY).parsebytes(data, headersonly=True)


def _deep_cut(data: bytes, cap: int) -> int | None:
    """Where multipart nesting first passes `cap`, or None; cheap when it cannot."""
    if data.count(b"\n--") <= cap:  # too few delimiter lines to nest that deep
        return None
    declared: set[bytes] = set()
    for m in _BOUNDARY_DECL.finditer(data):
        declared.add(m.group(1) or m.group(2))
    if len(declared) <= cap:
        return None
    stack: list[bytes] = []
    for m in _DELIMITER.finditer(data):
        token = m.group(1)
        if token in declared:
            if token in stack:
                del stack[stack.index(token) + 1:]
            else:
                stack.append(token)
                if len(stack) > cap:
                    return m.start()
        elif token.endswith(b"--") and token[:-2] in stack:
            del stack[stack.index(token[:-2]):]
    return None


def _elide(data: bytes, ctx: _Ctx) -> bytes:
    """Cut every body over max_part_bytes to a sniffable prefix and tag its part."""
    limit = ctx.limits.max_part_bytes
    if len(data) <= limit:
        return data
    out: list[bytes] = []
    done = prev = 0
    while prev < len(data):
        nxt = data.find(b"\n--", prev)
        end = len(data) if nxt < 0 else nxt
        if end - prev > limit:
            blank = _blank_line(data, prev, end)
            if blank is not None and end - blank[1] > limit:
                insert_at, body = blank
                keep = data.find(b"\n", min(body + SNIFF_PREFIX, end), end)
                keep = end if keep < 0 else keep + 1
                tag = f"{ctx.nonce}: {end - body}\r\n".encode()
                out += [data[done:insert_at], tag, data[insert_at:keep]]
                ctx.elided = True
                done = end
        if nxt < 0:
            break
        prev = nxt + 1
    out.append(data[done:])
    return b"".join(out)


def _blank_line(data: bytes, start: int, end: int) -> tuple[int, int] | None:
    """(just after the last header line, start of body) of the part in data[start:end]."""
    lf = data.find(b"\n\n", start, end)
    crlf = data.find(b"\n\r\n", start, end)
    hits = [(i, n) for i, n in ((lf, 2), (crlf, 3)) if i >= 0]
    if not hits:
        return None
    i, n = min(hits)
    return i + 1, i + n


def _cap_param_headers(part: Message, pid: str, ctx: _Ctx) -> None:
    """Report huge Content-Type/-Disposition values (_Policy bounds what reads see)."""
    for key, value in part.raw_items():
        name = key.lower()
        if name not in _PARAM_HEADERS or len(value) <= MAX_PARAM_HEADER:
            continue
        text = str(value)
        rest = text.partition("\n")[2]
        ctx.find(Code.MIME_DEFECT, pid or None, f"{name} header of {len(text)} chars")
        if name == "content-type" and "<" in rest:
            # The body was folded into the header (a real phish shape): show it anyway.
            html = decode_text(rest.encode("utf-8", "surrogateescape"), None)[0]
            ctx.bodies.append(BodyPart(pid or "1", PartKind.HTML, "text/html", "", html))
            ctx.urls.add_html(html, pid or "1")


def _child_id(prefix: str, index: int) -> str:
    return f"{prefix}.{index}" if prefix else str(index)


def _raw_payload(part: Message) -> Any:
    # get_payload() re-decodes 8-bit text with the declared charset (slow, and it raises
    # on hostile charsets); the stored payload is what we need.
    return getattr(part, "_payload", None)


def _is_container(part: Message) -> bool:
    return part.get_content_maintype() == "multipart" and isinstance(_raw_payload(part), list)


def _walk_entity(msg: Message, prefix: str, depth: int, nesting: int, ctx: _Ctx) -> None:
    """A message's content: its parts are prefix.1, prefix.2 (IMAP part numbering)."""
    _defects(msg, prefix, ctx)
    _cap_param_headers(msg, prefix, ctx)
    if _is_container(msg):
        _walk_children(msg, prefix, depth, nesting, ctx)
    else:
        _walk_part(msg, _child_id(prefix, 1), depth, nesting, ctx, own_headers_done=True)


def _walk_children(msg: Message, prefix: str, depth: int, nesting: int, ctx: _Ctx) -> None:
    if nesting + 1 > _max_nesting(ctx.limits):
        ctx.find(Code.MIME_TOO_DEEP, prefix or None, "multipart nesting", once=True)
        return
    payload = _raw_payload(msg)
    assert isinstance(payload, list)
    for index, child in enumerate(payload, 1):
        if isinstance(child, Message):
            _walk_part(child, _child_id(prefix, index), depth, nesting + 1, ctx)


def _walk_part(part: Message, pid: str, depth: int, nesting: int, ctx: _Ctx,
               own_headers_done: bool = False) -> None:
    if not own_headers_done:
        _defects(part, pid, ctx)
        _cap_param_headers(part, pid, ctx)
    if _is_container(part):
        _walk_children(part, pid, depth, nesting, ctx)
        return
    payload = _raw_payload(part)
    if isinstance(payload, list):  # message/rfc822 and its kin: the stdlib parsed it
        _nested_message(part, payload, pid, depth, nesting, ctx)
        return
    _leaf(part, payload if isinstance(payload, str) else "", pid, depth, ctx)


def _nested_message(part: Message, payload: list[Message | str], pid: str, depth: int,
                    nesting: int, ctx: _Ctx) -> None:
    sub = payload[0] if payload and isinstance(payload[0], Message) else None
    data = b""
    if sub is not None:
        try:
            data = sub.as_bytes(policy=_POLICY)
        except Exception:  # reserialising hostile input
            ctx.find(Code.MIME_DEFECT, pid, "nested message could not be serialised")
        if ctx.elided and ctx.nonce.encode() in data:
            data = re.sub(re.escape(ctx.nonce).encode() + rb": \d+\r\n", b"", data)
    filename = _filename(part) or "attached.eml"
    _attach(ctx, Attachment(pid, filename, part.get_content_type(), "message/rfc822",
                            len(data), hashlib.sha256(data).hexdigest(), data, depth))
    if sub is None:
        return
    if depth + 1 > ctx.limits.max_depth:
        ctx.find(Code.MIME_TOO_DEEP, pid, f"message nesting over {ctx.limits.max_depth}",
                 once=True)
        return
    _walk_entity(sub, pid, depth + 1, nesting + 1, ctx)


def _leaf(part: Message, payload: str, pid: str, depth: int, ctx: _Ctx) -> None:
    ctype = part.get_content_type()
    filename = _filename(part)
    elided = part.get(ctx.nonce) if ctx.elided else None
    if elided is not None or len(payload) > ctx.limits.max_part_bytes:
        encoded = int(str(elided)) if elided is not None else len(payload)
        ctx.find(Code.PART_TOO_LARGE, pid, f"{encoded} encoded bytes",
                 f"limit {ctx.limits.max_part_bytes}")
        prefix = _decode(part, payload[:SNIFF_PREFIX * 2] if elided is None else None)
        _attach(ctx, Attachment(pid, filename, ctype, sniff(prefix), _estimate(part, encoded),
                                "", b"", depth))
        return
    data = _decode(part, None)
    disposition = part.get_content_disposition()
    if ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename:
        text, charset = decode_text(data, part.get_content_charset())
        if ctype == "text/html":
            ctx.bodies.append(BodyPart(pid, PartKind.HTML, ctype, charset, text))
            ctx.urls.add_html(text, pid)
        else:
            ctx.bodies.append(BodyPart(pid, PartKind.TEXT, ctype, charset, text))
            ctx.urls.add_text(text, pid)
        return
    _attach(ctx, Attachment(pid, filename, ctype, sniff(data), len(data),
                            hashlib.sha256(data).hexdigest(), data, depth))


def _decode(part: Message, payload: str | None) -> bytes:
    """The part's decoded bytes, decoded once; `payload` overrides the part's own."""
    try:
        if payload is not None:
            copy = Message(policy=_POLICY)
            copy["Content-Transfer-Encoding"] = str(part.get("content-transfer-encoding", ""))
            copy.set_payload(payload)
            part = copy
        data = part.get_payload(decode=True)
    except Exception:  # a broken encoding yields what could be read
        return b""
    return data if isinstance(data, bytes) else b""


def _estimate(part: Message, encoded: int) -> int:
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    return encoded * 3 // 4 if cte == "base64" else encoded


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:  # RFC 2231 parameters from hostile input
        return None
    if not name:
        return None
    return decode_header_value(str(name)).strip() or None


def _defects(part: Message, pid: str, ctx: _Ctx) -> None:
    if part.defects:
        names = sorted({type(d).__name__ for d in part.defects})
        ctx.find(Code.MIME_DEFECT, pid or None, *names)


def _attach(ctx: _Ctx, attachment: Attachment) -> None:
    if len(ctx.attachments) >= ctx.limits.max_attachments:
        ctx.find(Code.TOO_MANY_ATTACHMENTS, attachment.part_id,
                 f"more than {ctx.limits.max_attachments}", once=True)
        return
    ctx.attachments.append(attachment)
