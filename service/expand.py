"""The dispatcher's expander: archive members, decrypted documents and PDF embedded files
become extra attachments, so every scanner (YARA included) sees what the container hid.

Options: none of its own; it reads Limits (max_depth, max_attachments,
max_expanded_bytes, max_expansion_ratio, max_archive_entries, max_part_bytes,
max_password_tries, pool_workers) and stops a little before the dispatcher's timeout so
that what it found is kept.
Outputs: derived `Attachment`s (part_id "<container>/<n>", depth + 1, parent set) and
findings from scanner "expand": `decrypted_attachment` (evidence: which password and
where it was found), `encrypted_attachment` (no candidate opened it), `archive_bomb`,
`archive_too_deep`, `archive_too_many_entries`, `archive_corrupt`, `part_too_large`,
`too_many_attachments`, `scanner_timeout` / `scanner_error` for a container whose
worker was killed.
Limitations: RAR, ISO/IMG/VHD, CAB, gzip/tar are not opened (the attachments scanner
flags the dangerous ones); PDF embedded files only through the /EmbeddedFiles name tree;
a decrypted OOXML package exposes its text-bearing XML parts, an unencrypted one does
not (the office scanner reads those itself).

All parsing happens in the bounded process pool (service/procpool.py): a container that
hangs its parser costs one worker restart, never the event loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import mimetypes
import re
from collections import deque
from collections.abc import Awaitable, Callable

from service import passwords, procpool, unpack
from service.config import Limits
from service.model import (
    Attachment,
    Code,
    Finding,
    ParsedMessage,
    Severity,
    bounded_evidence,
)
from service.scanners.base import ScanContext
from service.sniff import sniff

NAME = "expand"
Expander = Callable[[ParsedMessage, ScanContext], Awaitable[ParsedMessage]]
# Leave the dispatcher a margin: a result returned late is a result thrown away.
_TIME_SHARE = 0.9

_OLE_TYPES = frozenset({
    "application/x-ole-storage", "application/msword", "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
})
_OOXML_PREFIX = "application/vnd.openxmlformats-officedocument."
# pypdf finds embedded files through the catalog's /Names /EmbeddedFiles tree. In a PDF
# without object streams or cross-reference streams every dictionary is plain text, so
# that name is in the bytes unless written with #xx escapes: a PDF with none of these
# has nothing for the pool to open, and most PDFs in mail are such (a round trip saved).
_PDF_MARKERS = (b"EmbeddedFile", b"/ObjStm", b"/XRef")
_PDF_ESCAPED_NAME = re.compile(rb"/[^\s/<>\[\]()%{}]*#[0-9a-fA-F]{2}")

_SEVERITY = {
    Code.ARCHIVE_BOMB: Severity.MEDIUM,
    Code.ARCHIVE_TOO_DEEP: Severity.LOW,
    Code.ARCHIVE_TOO_MANY_ENTRIES: Severity.LOW,
    Code.ENCRYPTED_ATTACHMENT: Severity.LOW,
    Code.DECRYPTED_ATTACHMENT: Severity.MEDIUM,
}


def container_kind(att: Attachment, decrypted: bool = False) -> str | None:
    """Which unpacker applies; only sniffed bytes count, never the declared type."""
    if len(att.data) < att.size or not att.data:
        return None  # elided by the parser: a prefix cannot be opened
    sniffed = att.sniffed_type or ""
    if sniffed == "application/zip":
        return "zip"
    if sniffed == "application/x-7z-compressed":
        return "7z"
    if sniffed in _OLE_TYPES:
        return "office"
    if sniffed == "application/pdf":
        return "pdf" if _pdf_may_embed(att.data) else None
    if decrypted and sniffed.startswith(_OOXML_PREFIX):
        return "ooxml"
    return None


def _pdf_may_embed(data: bytes) -> bool:
    if any(marker in data for marker in _PDF_MARKERS):
        return True
    return b"#" in data and _PDF_ESCAPED_NAME.search(data) is not None


def _finding(code: Code, part: str, *evidence: str, severity: Severity | None = None) -> Finding:
    return Finding(scanner=NAME, code=code, severity=severity or _SEVERITY.get(code, Severity.INFO),
                   part=part, evidence=bounded_evidence(list(evidence)))


def _event_finding(code_value: str, evidence: str, part: str) -> Finding:
    code = Code(code_value)
    severity = None
    if code is Code.DECRYPTED_ATTACHMENT and unpack.DEFAULT_OFFICE_PASSWORD[1] in evidence:
        # Excel's default "read-only" encryption is common in honest mail too.
        severity = Severity.LOW
    return _finding(code, part, evidence, severity=severity)


def _child(parent: Attachment, index: int, name: str, data: bytes) -> Attachment:
    filename = name if name != "decrypted" else (parent.filename or "decrypted")
    declared = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return Attachment(part_id=f"{parent.part_id}/{index}", filename=filename,
                      content_type=declared, sniffed_type=sniff(data), size=len(data),
                      sha256=hashlib.sha256(data).hexdigest(), data=data,
                      depth=parent.depth + 1, parent=parent.part_id)


class _Walk:
    """One message's expansion: the budgets shared by every container in it."""

    def __init__(self, msg: ParsedMessage, ctx: ScanContext) -> None:
        self.msg = msg
        self.limits = ctx.limits
        self.added: list[Attachment] = []
        self.findings: list[Finding] = []
        self.expanded = 0
        self.entries = 0
        self._passwords: unpack.Passwords | None = None

    @property
    def passwords(self) -> unpack.Passwords:
        if self._passwords is None:  # only messages with a container pay for harvesting
            self._passwords = tuple((c.password, c.source)
                                    for c in passwords.harvest(self.msg))
        return self._passwords

    def caps(self, att: Attachment) -> unpack.Caps:
        lim = self.limits
        budget = min(lim.max_expanded_bytes - self.expanded,
                     int(lim.max_expansion_ratio * max(len(att.data), 1)))
        return (max(budget, 0), lim.max_archive_entries - self.entries, lim.max_part_bytes,
                lim.max_password_tries)

    async def run(self, pool: procpool.ProcPool, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        queue = deque((a, k) for a in self.msg.attachments
                      if (k := container_kind(a)) is not None)
        while queue:
            att, kind = queue.popleft()
            if att.depth >= self.limits.max_depth:
                self.findings.append(_finding(Code.ARCHIVE_TOO_DEEP, att.part_id,
                                              f"depth {att.depth}"))
                continue
            caps = self.caps(att)
            if caps[0] <= 0 or caps[1] <= 0:
                code = Code.ARCHIVE_BOMB if caps[0] <= 0 else Code.ARCHIVE_TOO_MANY_ENTRIES
                self.findings.append(_finding(code, att.part_id, "message budget spent"))
                continue
            try:
                members, events = await pool.run(unpack.unpack, kind, att.data,
                                                 self.passwords, caps,
                                                 timeout=deadline - loop.time())
            except procpool.PoolTimeout:
                self.findings.append(_finding(Code.SCANNER_TIMEOUT, att.part_id,
                                              f"{kind} unpacking killed at the deadline"))
                break
            except procpool.PoolError as exc:
                self.findings.append(_finding(Code.SCANNER_ERROR, att.part_id,
                                              f"{kind}: {exc}"))
                continue
            self.findings.extend(_event_finding(c, e, att.part_id) for c, e in events)
            for index, (name, data, note) in enumerate(members, 1):
                if len(self.msg.attachments) + len(self.added) >= self.limits.max_attachments:
                    self.findings.append(_finding(Code.TOO_MANY_ATTACHMENTS, att.part_id,
                                                  f"limit {self.limits.max_attachments}"))
                    queue.clear()
                    break
                child = _child(att, index, name, data)
                self.expanded += len(data)
                self.entries += 1
                self.added.append(child)
                child_kind = container_kind(child, decrypted=note == "decrypted")
                if child_kind is not None:
                    queue.append((child, child_kind))


def warmed(limits: Limits) -> Expander:
    """`expand`, with the worker pool started in the background so that the first
    message does not pay for the workers' imports."""
    procpool.shared_pool(limits.pool_workers).warm()
    return expand


async def expand(msg: ParsedMessage, ctx: ScanContext) -> ParsedMessage:
    """The `Expander` for service.dispatch.Dispatcher; never raises on hostile input."""
    if not any(container_kind(a) for a in msg.attachments):
        return msg
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ctx.limits.scanner_timeout_s * _TIME_SHARE
    walk = _Walk(msg, ctx)
    await walk.run(procpool.shared_pool(ctx.limits.pool_workers), deadline)
    if not walk.added and not walk.findings:
        return msg
    return dataclasses.replace(msg, attachments=(*msg.attachments, *walk.added),
                               findings=(*msg.findings, *walk.findings))
