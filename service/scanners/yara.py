"""YARA over the message as the reader sees it and over every attachment's bytes.

Options: `scan_attachments` (default true), `max_evidence` strings per finding.
Outputs: one `rule_match` finding per (rule, part) with the rule's meta (severity,
action, description, id, status) and the part that matched ("headers", a body part id,
or an attachment part id).

Design, for speed: yara-python has a fixed cost per `match()` call that grows with the
rule count, so a message costs 1 + (number of attachments) calls, not one per part:
headers and all decoded bodies go into one buffer whose segment offsets map a match
back to its part. Externals (`part_kind`, `filename`, `extension`, `content_type`,
`sender_domain`, `display_name`, `subject`, `sender_freemail`, `reply_to_domain`,
`reply_to_freemail`, `body_chars`, ...; see service/rules.py) let a rule target a kind
of part or a sender shape; the free-mail list is service/senderdata.py's.
A small message is matched inline: the thread hop (queue put, GIL
handoff, wakeup) cost about as much as the match itself; a big one runs in a thread,
where yara-python releases the GIL.

Limitations: a rule sees one attachment at a time, so a condition that spans the body
and an attachment must be written as two rules; HTML bodies are matched as markup.
"""

from __future__ import annotations

import asyncio
import bisect
import math
from dataclasses import dataclass
from email.utils import getaddresses
from typing import Any

from service.model import (
    Action,
    Attachment,
    Code,
    Finding,
    ParsedMessage,
    PartKind,
    Severity,
    bounded_evidence,
)
from service.scanners.base import ScanContext
from service.senderdata import load_domain_list

NAME = "yara"
# Bytes to match below which a message is matched on the event loop (most mail: the
# median phish is 21 KB): a few milliseconds at most, the order of parsing it.
INLINE_BYTES = 64 * 1024
MAX_REPLY_TO_CHARS = 1024


@dataclass(frozen=True, slots=True)
class Options:
    scan_attachments: bool = True
    max_evidence: int = 4
    # Below this many bytes YARA runs on the event loop (a thread hop costs more than
    # the match); above it, in a thread. Batch scans set 0 so that YARA on one message
    # (GIL released) overlaps the parsing of the next.
    inline_max_bytes: int = INLINE_BYTES


@dataclass(frozen=True, slots=True)
class MessageBuffer:
    data: bytes
    starts: tuple[int, ...]  # offset where each segment begins
    parts: tuple[str, ...]  # part id of each segment

    def part_at(self, offset: int) -> str:
        i = bisect.bisect_right(self.starts, offset) - 1
        return self.parts[max(i, 0)]


def message_buffer(msg: ParsedMessage) -> MessageBuffer:
    chunks: list[bytes] = [msg.header_block]
    starts = [0]
    parts = [PartKind.HEADERS.value]
    pos = len(msg.header_block)
    for body in msg.bodies:
        chunk = b"\n\n" + body.text.encode("utf-8", "replace")
        starts.append(pos)
        parts.append(body.part_id)
        chunks.append(chunk)
        pos += len(chunk)
    return MessageBuffer(b"".join(chunks), tuple(starts), tuple(parts))


def reply_to_domain(msg: ParsedMessage) -> str:
    """The first Reply-To address's domain; "" when there is none or it is unreadable."""
    value = msg.header("Reply-To")
    if not value:
        return ""
    try:
        pairs = getaddresses([value[:MAX_REPLY_TO_CHARS]])
    except Exception:  # hostile header: no domain rather than no scan
        return ""
    for _, address in pairs:
        if "@" in address:
            return address.rpartition("@")[2].strip().strip("[]>").lower()
    return ""


def base_externals(msg: ParsedMessage) -> dict[str, Any]:
    freemail = load_domain_list()
    reply_domain = reply_to_domain(msg)
    return {
        "part_kind": "message",
        "filename": "",
        "extension": "",
        "content_type": "",
        "declared_type": "",
        "sender_domain": msg.sender_domain,
        "display_name": (msg.from_display or "").lower(),
        "subject": msg.subject.lower(),
        "attachment_count": len(msg.attachments),
        "url_count": len(msg.urls),
        "journaled": msg.envelope.journaled,
        "sender_freemail": msg.sender_domain in freemail,
        "reply_to_domain": reply_domain,
        "reply_to_freemail": reply_domain in freemail,
        "body_chars": sum(len(b.text) for b in msg.bodies),
    }


def attachment_externals(base: dict[str, Any], att: Attachment) -> dict[str, Any]:
    filename = (att.filename or "").lower()
    ext = filename.rpartition(".")[2] if "." in filename else ""
    return {
        **base,
        "part_kind": "attachment",
        "filename": filename,
        "extension": ext,
        "content_type": att.effective_type.lower(),
        "declared_type": att.content_type.lower(),
    }


def _finding(match: Any, part: str, max_evidence: int) -> Finding:
    meta = match.meta
    evidence: list[str] = []
    for s in match.strings:
        for inst in s.instances[:1]:
            text = bytes(inst.matched_data[:80]).decode("utf-8", "replace")
            evidence.append(f"{s.identifier}: {text}")
        if len(evidence) >= max_evidence:
            break
    action = meta.get("action")
    return Finding(
        scanner=NAME,
        code=Code.RULE_MATCH,
        severity=Severity.parse(meta.get("severity"), Severity.MEDIUM),
        rule=match.rule,
        rule_id=str(meta["id"]) if "id" in meta else None,
        description=str(meta.get("description", "")) or None,
        action=Action(action) if action in ("alert", "remediate") else None,
        status=str(meta.get("status", "stable")),
        part=part,
        evidence=bounded_evidence(evidence),
    )


def _first_offset(match: Any) -> int:
    offsets = [s.instances[0].offset for s in match.strings if s.instances]
    return min(offsets) if offsets else 0


def scan_sync(rules: Any, msg: ParsedMessage, options: Options, timeout_s: float) -> list[Finding]:
    timeout = max(1, math.ceil(timeout_s))
    base = base_externals(msg)
    buf = message_buffer(msg)
    findings: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for m in rules.match(data=buf.data, externals=base, timeout=timeout):
        part = buf.part_at(_first_offset(m)) if m.strings else PartKind.HEADERS.value
        seen.add((m.rule, part))
        findings.append(_finding(m, part, options.max_evidence))
    if options.scan_attachments:
        for att in msg.attachments:
            if not att.data:
                continue
            ext = attachment_externals(base, att)
            for m in rules.match(data=att.data, externals=ext, timeout=timeout):
                if (m.rule, att.part_id) not in seen:
                    seen.add((m.rule, att.part_id))
                    findings.append(_finding(m, att.part_id, options.max_evidence))
    return findings


async def scan(msg: ParsedMessage, options: Options, ctx: ScanContext) -> list[Finding]:
    if ctx.rules is None:
        return []
    compiled = ctx.rules.current
    size = len(msg.header_block) + sum(len(b.text) for b in msg.bodies)
    if options.scan_attachments:
        size += sum(len(a.data) for a in msg.attachments)
    if size <= options.inline_max_bytes:
        return scan_sync(compiled.rules, msg, options, ctx.limits.scanner_timeout_s)
    return await asyncio.to_thread(scan_sync, compiled.rules, msg, options,
                                   ctx.limits.scanner_timeout_s)
