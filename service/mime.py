"""Raw bytes to ParsedMessage: journal-report unwrap, parts, bodies, attachments, limits.

`parse()` never raises: defects and limits become findings. It is a bytes-level
splitter, not the stdlib's line-by-line feedparser (which cost more than the YARA scan
it feeds): a header block ends at the first blank line, a multipart body is cut with
`bytes.find` on its own `--boundary` delimiters (top-down, so a part never needs to know
its ancestors' boundaries), and each leaf is transfer-decoded once, by binascii. Every
limit is checked before the work it bounds:

- a part whose encoded body exceeds `max_part_bytes` is not decoded: it becomes an
  Attachment with its metadata, a size estimate, the type sniffed from a decoded
  prefix, `data=b""`, `sha256=""` and a PART_TOO_LARGE finding;
- multipart nesting deeper than `_max_nesting(limits)`, message/rfc822 nesting deeper
  than `max_depth`, and more than MAX_PARTS leaves stop the walk with a finding;
- a message over `max_message_bytes` is parsed from its first `max_message_bytes`
  (MESSAGE_TOO_LARGE); `raw` still holds all of it for the byte-level scanners.
"""

from __future__ import annotations

import binascii
import hashlib
from dataclasses import dataclass, field

from service import journal
from service.config import Limits
from service.mime_headers import (
    Headers,
    addresses,
    content_type,
    decode_base64,
    decode_header_value,
    decode_text,
    first_address,
    header_block,
    params,
    split_entity,
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
from service.urls import UrlCollector

SCANNER = "mime"
MAX_FINDINGS = 50
MAX_PARAM_HEADER = 4096  # Content-Type/-Disposition longer than this are read by line one
SNIFF_PREFIX = 8192  # decoded bytes of an oversized part looked at to sniff its type
MAX_PARTS = 1000  # leaves walked per message: bodies are not capped by max_attachments
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
_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global"})
_UUENCODE = frozenset({"x-uuencode", "uuencode", "x-uue", "uue"})


def _max_nesting(limits: Limits) -> int:
    # Legit mail nests multiparts ~4 deep per message layer.
    return min(4 * max(limits.max_depth, 1) + 4, 120)


@dataclass
class _Ctx:
    limits: Limits
    findings: list[Finding] = field(default_factory=list)
    bodies: list[BodyPart] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    urls: UrlCollector = field(default_factory=UrlCollector)
    seen_codes: set[Code] = field(default_factory=set)
    leaves: int = 0

    def find(self, code: Code, part: str | None, *evidence: str, once: bool = False) -> None:
        if (once and code in self.seen_codes) or len(self.findings) >= MAX_FINDINGS:
            return
        self.seen_codes.add(code)
        self.findings.append(Finding(scanner=SCANNER, code=code, severity=_SEVERITY[code],
                                     part=part, evidence=bounded_evidence(list(evidence))))


@dataclass(slots=True)
class _Part:
    """One entity: its header fields and still-encoded body, plus what the walk needs."""

    fields: Headers
    body: bytes
    ctype: str
    params: dict[str, str]
    cte: str
    disposition: str | None
    filename: str | None


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
    ctx = _Ctx(limits=limits)
    data = strip_mbox(raw)
    if len(data) > limits.max_message_bytes:
        ctx.find(Code.MESSAGE_TOO_LARGE, None, f"{len(data)} bytes",
                 f"parsed first {limits.max_message_bytes}")
        data = data[:limits.max_message_bytes]
    scanned, jenv = data, None
    top = _part(data, "", ctx)
    if top.fields.get(journal.HEADER) is not None:
        scanned, jenv = _unwrap(data, top, ctx)
        if jenv is not None:
            top = _part(scanned, "", ctx)
    _walk_entity(top, "", 0, 0, ctx)
    fields = top.fields
    from_address, from_display = first_address(fields.get_all("from"))
    subject = _header(fields, "subject") or ""
    message_id = _header(fields, "message-id")
    return ParsedMessage(
        raw=scanned if jenv is not None else raw, header_block=header_block(scanned),
        headers=fields.decoded(),
        envelope=_envelope(fields, from_address, jenv, ctx), message_id=message_id,
        subject=subject, from_address=from_address, from_display=from_display,
        date=_header(fields, "date"), bodies=tuple(ctx.bodies),
        attachments=tuple(ctx.attachments), urls=ctx.urls.urls(), findings=tuple(ctx.findings))


def _header(fields: Headers, name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    return decode_header_value(value).strip() or None


def _unwrap(data: bytes, outer: _Part,
            ctx: _Ctx) -> tuple[bytes, journal.JournalEnvelope | None]:
    """The journaled original and its envelope, or the report itself when malformed."""
    boundary = outer.params.get("boundary", "").rstrip()
    parts = None
    if boundary:
        parts = journal.split_report(data[len(header_block(data)):], boundary)
    if parts is None or parts.original is None:
        ctx.find(Code.JOURNAL_REPORT_MALFORMED, None, "no attached original message")
        return data, None
    return strip_mbox(parts.original), journal.parse_envelope(parts.envelope_text or "")


def _envelope(fields: Headers, from_address: str | None,
              jenv: journal.JournalEnvelope | None, ctx: _Ctx) -> Envelope:
    if jenv is not None:
        recipients = jenv.recipients
        if not recipients:
            ctx.find(Code.JOURNAL_REPORT_MALFORMED, None, "envelope names no recipient")
            recipients = _plain_recipients(fields)
        return Envelope(sender=jenv.sender or from_address, recipients=recipients,
                        message_id=jenv.message_id or _header(fields, "message-id"),
                        subject=jenv.subject if jenv.subject is not None
                        else _header(fields, "subject"),
                        journaled=True)
    sender = from_address
    if sender is None:
        sender = next(iter(addresses(fields.get_all("return-path"))), None)
    return Envelope(sender=sender, recipients=_plain_recipients(fields),
                    message_id=_header(fields, "message-id"),
                    subject=_header(fields, "subject"), journaled=False)


def _plain_recipients(fields: Headers) -> tuple[Recipient, ...]:
    seen: dict[str, Recipient] = {}
    for name, source in _PLAIN_RECIPIENTS:
        for addr in addresses(fields.get_all(name)):
            seen.setdefault(addr, Recipient(addr, source))
    return tuple(seen.values())


def _part(data: bytes, pid: str, ctx: _Ctx, default_type: str = "text/plain") -> _Part:
    fields, body, no_separator = split_entity(data)
    if no_separator:
        ctx.find(Code.MIME_DEFECT, pid or None, "MissingHeaderBodySeparatorDefect")
    ctype_value = _capped(fields.get("content-type"), "content-type", pid, ctx)
    disp_value = _capped(fields.get("content-disposition"), "content-disposition", pid, ctx)
    ctype = content_type(ctype_value) if ctype_value is not None else default_type
    ctype_params = params(ctype_value)
    disp_params = params(disp_value)
    filename = disp_params.get("filename") or ctype_params.get("name")
    if filename:
        filename = decode_header_value(filename).strip() or None
    disposition = disp_value.partition(";")[0].strip().lower() if disp_value else None
    cte = (fields.get("content-transfer-encoding") or "").strip().lower()
    return _Part(fields, body, ctype, ctype_params, cte, disposition, filename or None)


def _capped(value: str | None, name: str, pid: str, ctx: _Ctx) -> str | None:
    """A Content-Type/-Disposition value, read by its first line when it is huge."""
    if value is None or len(value) <= MAX_PARAM_HEADER:
        return value
    first, _, rest = value.partition("\n")
    ctx.find(Code.MIME_DEFECT, pid or None, f"{name} header of {len(value)} chars")
    if name == "content-type" and "<" in rest:
        # The body was folded into the header (a real phish shape): show it anyway.
        ctx.bodies.append(BodyPart(pid or "1", PartKind.HTML, "text/html", "", rest))
        ctx.urls.add_html(rest, pid or "1")
    return first.strip()[:MAX_PARAM_HEADER] or "text/plain"


def _child_id(prefix: str, index: int) -> str:
    return f"{prefix}.{index}" if prefix else str(index)


def _walk_entity(part: _Part, prefix: str, depth: int, nesting: int, ctx: _Ctx) -> None:
    """A message's content: its parts are prefix.1, prefix.2 (IMAP part numbering)."""
    if part.ctype.startswith("multipart/") and _walk_children(part, prefix, depth, nesting,
                                                              ctx):
        return
    _walk_part(part, _child_id(prefix, 1), depth, nesting, ctx, container_done=True)


def _walk_part(part: _Part, pid: str, depth: int, nesting: int, ctx: _Ctx,
               container_done: bool = False) -> None:
    if (not container_done and part.ctype.startswith("multipart/")
            and _walk_children(part, pid, depth, nesting, ctx)):
        return
    ctx.leaves += 1
    if ctx.leaves > MAX_PARTS:
        ctx.find(Code.TOO_MANY_ATTACHMENTS, pid, f"more than {MAX_PARTS} parts", once=True)
        return
    if part.ctype in _MESSAGE_TYPES and len(part.body) <= ctx.limits.max_part_bytes:
        _nested_message(part, pid, depth, nesting, ctx)
    else:
        _leaf(part, pid, depth, ctx)


def _walk_children(part: _Part, prefix: str, depth: int, nesting: int, ctx: _Ctx) -> bool:
    """Walk a multipart's children; False when it has none to walk (then it is a leaf)."""
    if nesting + 1 > _max_nesting(ctx.limits):
        ctx.find(Code.MIME_TOO_DEEP, prefix or None, "multipart nesting", once=True)
        return True
    boundary = part.params.get("boundary", "").rstrip()
    split = _split(part.body, boundary.encode("utf-8", "replace")) if boundary else None
    if split is None:
        ctx.find(Code.MIME_DEFECT, prefix or None, "NoBoundaryInMultipartDefect"
                 if not boundary else "StartBoundaryNotFoundDefect")
        return False
    chunks, closed = split
    defects = [name for name, bad in (
        ("CloseBoundaryNotFoundDefect", not closed),
        ("MultipartInvariantViolationDefect", not chunks),
        ("InvalidMultipartContentTransferEncodingDefect",
         part.cte not in ("", "7bit", "8bit", "binary"))) if bad]
    if defects:
        ctx.find(Code.MIME_DEFECT, prefix or None, *defects)
    default = "message/rfc822" if part.ctype == "multipart/digest" else "text/plain"
    for index, chunk in enumerate(chunks, 1):
        pid = _child_id(prefix, index)
        _walk_part(_part(chunk, pid, ctx, default), pid, depth, nesting + 1, ctx)
        if ctx.leaves > MAX_PARTS:
            break
    return True


def _split(body: bytes, boundary: bytes) -> tuple[list[bytes], bool] | None:
    """A multipart body's parts and whether the close delimiter came; None: no delimiter.

    A delimiter is `--boundary` at a line start followed by optional blanks and a line
    break (or `--` for the close delimiter); the line break before it belongs to it.
    """
    delim = b"--" + boundary
    size = len(body)
    marks: list[tuple[int, int]] = []  # (end of the previous part, start of the next)
    closed = False
    pos = 0
    while True:
        i = body.find(delim, pos)
        if i < 0:
            break
        pos = i + len(delim)
        if i > 0 and body[i - 1] != 0x0A:
            continue
        close = body.startswith(b"--", pos)
        if not close:
            j = pos
            while j < size and body[j] in (0x20, 0x09):
                j += 1
            if j < size and body[j] not in (0x0D, 0x0A):
                continue  # "--boundaryX": a longer token, not this delimiter
        cut = i
        if i > 0:
            cut = i - 2 if i > 1 and body[i - 2] == 0x0D else i - 1
        nl = body.find(b"\n", pos)
        pos = size if nl < 0 else nl + 1
        marks.append((cut, pos))
        if close:
            closed = True
            break
    if not marks:
        return None
    chunks = [body[marks[k][1]:marks[k + 1][0]] for k in range(len(marks) - 1)]
    if not closed:
        chunks.append(body[marks[-1][1]:])
    return chunks, closed


def _nested_message(part: _Part, pid: str, depth: int, nesting: int, ctx: _Ctx) -> None:
    data = strip_mbox(_decode(part.cte, part.body))
    _attach(ctx, Attachment(pid, part.filename or "attached.eml", part.ctype,
                            "message/rfc822", len(data), hashlib.sha256(data).hexdigest(),
                            data, depth))
    if not data.strip():
        return
    if depth + 1 > ctx.limits.max_depth:
        ctx.find(Code.MIME_TOO_DEEP, pid, f"message nesting over {ctx.limits.max_depth}",
                 once=True)
        return
    _walk_entity(_part(data, pid, ctx), pid, depth + 1, nesting + 1, ctx)


def _leaf(part: _Part, pid: str, depth: int, ctx: _Ctx) -> None:
    encoded = len(part.body)
    if encoded > ctx.limits.max_part_bytes:
        ctx.find(Code.PART_TOO_LARGE, pid, f"{encoded} encoded bytes",
                 f"limit {ctx.limits.max_part_bytes}")
        prefix = _decode(part.cte, part.body[:SNIFF_PREFIX * 2])
        size = encoded * 3 // 4 if part.cte == "base64" else encoded
        _attach(ctx, Attachment(pid, part.filename, part.ctype, sniff(prefix), size, "", b"",
                                depth))
        return
    data = _decode(part.cte, part.body)
    if (part.ctype in ("text/plain", "text/html") and part.disposition != "attachment"
            and not part.filename):
        charset = part.params.get("charset", "").strip().lower() or None
        text, used = decode_text(data, charset)
        if part.ctype == "text/html":
            ctx.bodies.append(BodyPart(pid, PartKind.HTML, part.ctype, used, text))
            ctx.urls.add_html(text, pid)
        else:
            ctx.bodies.append(BodyPart(pid, PartKind.TEXT, part.ctype, used, text))
            ctx.urls.add_text(text, pid)
        return
    _attach(ctx, Attachment(pid, part.filename, part.ctype, sniff(data), len(data),
                            hashlib.sha256(data).hexdigest(), data, depth))


def _decode(cte: str, body: bytes) -> bytes:
    """A body's bytes with its transfer encoding undone; as sent when unknown."""
    if cte == "base64":
        return decode_base64(body)
    if cte == "quoted-printable":
        return binascii.a2b_qp(body)
    if cte in _UUENCODE:
        return _uudecode(body)
    return body


def _uudecode(body: bytes) -> bytes:
    out: list[bytes] = []
    lines = iter(body.splitlines())
    for line in lines:
        if line.startswith(b"begin "):
            break
    for line in lines:
        if line.strip() in (b"end", b"`"):
            break
        try:
            out.append(binascii.a2b_uu(line))
        except binascii.Error:
            continue
    return b"".join(out)


def _attach(ctx: _Ctx, attachment: Attachment) -> None:
    if len(ctx.attachments) >= ctx.limits.max_attachments:
        ctx.find(Code.TOO_MANY_ATTACHMENTS, attachment.part_id,
                 f"more than {ctx.limits.max_attachments}", once=True)
        return
    ctx.attachments.append(attachment)
