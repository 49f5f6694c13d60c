"""PDF attachments: JavaScript, actions that run on open, Launch, embedded files, links.

Options: `max_pages` (default 50) pages whose annotations are read; `max_uris` (20).
Outputs:
- `pdf_javascript` (medium; high when it runs on open): /JavaScript or /JS actions, in the
  catalog's name tree, OpenAction, additional actions (/AA) or link annotations.
- `pdf_open_action` (info for navigation, high when it runs JavaScript or Launch).
- `pdf_launch` (high): a /Launch action starts a program or opens a file.
- `pdf_embedded_file` (low): embedded files; the expander (service/expand.py) feeds them
  back through every scanner as derived attachments.
- `pdf_uri` (low): URI actions; evidence lists the URIs (bounded). The urls scanner
  reads link annotations itself, but only from uncompressed objects.
- `url_shortener`, `free_hosting`, `file_sharing` (low): the URI actions found here,
  classified with the security team's host lists (service/data/url_hosts.yaml), so that
  links the urls scanner cannot see (compressed object streams) still count as link
  signals for the verdict policy (service/corroborate.py).
Structure is read with pypdf in the process pool; a raw keyword scan (hex escapes in
names decoded, as pdfid does) backs it up for objects the structural walk cannot reach.
Limitations: JavaScript is reported, not run or deobfuscated; keywords inside
compressed object streams are only seen where the structure leads to them.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from service.model import (
    Code,
    Finding,
    ParsedMessage,
    Severity,
    bounded_evidence,
)
from service.scanners import pooled
from service.scanners.base import ScanContext
from service.urls import hosts

NAME = "pdf"

Event = tuple[str, str, tuple[str, ...]]  # (Code value, Severity value, evidence)

logging.getLogger("pypdf").setLevel(logging.CRITICAL)


@dataclass(frozen=True, slots=True)
class Options:
    max_pages: int = 50
    max_uris: int = 20


_HEX_NAME = re.compile(rb"#([0-9a-fA-F]{2})")
_RAW = re.compile(rb"/(JavaScript|JS|Launch|OpenAction|EmbeddedFile|AA)(?![A-Za-z])")


class _Walk:
    def __init__(self, max_uris: int) -> None:
        self.events: dict[str, tuple[str, list[str]]] = {}
        self.uris: list[str] = []
        self.max_uris = max_uris

    def hit(self, code: Code, severity: Severity, evidence: str) -> None:
        current = self.events.get(code.value)
        if current is None:
            self.events[code.value] = (severity.value, [evidence])
            return
        sev = max(Severity(current[0]), severity, key=lambda s: s.rank)
        items = current[1] if evidence in current[1] else [*current[1], evidence]
        self.events[code.value] = (sev.value, items[:8])

    def action(self, obj: Any, where: str, on_open: bool = False, depth: int = 0) -> None:
        obj = _resolve(obj)
        if not isinstance(obj, dict) or depth > 8:
            return
        kind = str(obj.get("/S", ""))
        if kind == "/JavaScript" or "/JS" in obj:
            self.hit(Code.PDF_JAVASCRIPT, Severity.HIGH if on_open else Severity.MEDIUM,
                     f"javascript in {where}")
        elif kind == "/Launch":
            target = _resolve(obj.get("/F", obj.get("/Win", "")))
            self.hit(Code.PDF_LAUNCH, Severity.HIGH, f"launch in {where}: {str(target)[:80]}")
        elif kind == "/URI" and len(self.uris) < self.max_uris:
            self.uris.append(str(_resolve(obj.get("/URI", "")))[:200])
        if on_open:
            dangerous = kind in ("/JavaScript", "/Launch") or "/JS" in obj
            self.hit(Code.PDF_OPEN_ACTION, Severity.HIGH if dangerous else Severity.INFO,
                     f"OpenAction {kind or 'destination'}")
        if "/Next" in obj:  # action chains
            self.action(obj["/Next"], where, on_open, depth + 1)


def _resolve(obj: Any) -> Any:
    for _ in range(16):
        if not hasattr(obj, "get_object"):
            return obj
        nxt = obj.get_object()
        if nxt is obj:
            return obj
        obj = nxt
    return obj


def _structure(data: bytes, walk: _Walk, max_pages: int) -> None:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        reader.decrypt("")
    root = _resolve(reader.trailer.get("/Root"))
    if not isinstance(root, dict):
        return
    if "/OpenAction" in root:
        walk.action(root["/OpenAction"], "OpenAction", on_open=True)
    for key, sub in (_resolve(root.get("/AA")) or {}).items():
        walk.action(sub, f"catalog /AA {key}", on_open=True)
    names = _resolve(root.get("/Names"))
    if isinstance(names, dict):
        if "/JavaScript" in names:
            walk.hit(Code.PDF_JAVASCRIPT, Severity.HIGH, "document-level JavaScript")
        if "/EmbeddedFiles" in names:
            walk.hit(Code.PDF_EMBEDDED_FILE, Severity.LOW, "EmbeddedFiles name tree")
    for i, page in enumerate(reader.pages):
        if i >= max_pages:
            break
        for key, sub in (_resolve(page.get("/AA")) or {}).items():
            walk.action(sub, f"page {i + 1} /AA {key}", on_open=key == "/O")
        for annot in _resolve(page.get("/Annots")) or []:
            annot = _resolve(annot)
            if not isinstance(annot, dict):
                continue
            if annot.get("/Subtype") == "/FileAttachment":
                walk.hit(Code.PDF_EMBEDDED_FILE, Severity.LOW, f"file attachment on page {i + 1}")
            if "/A" in annot:
                walk.action(annot["/A"], f"page {i + 1} link")
            for key, sub in (_resolve(annot.get("/AA")) or {}).items():
                walk.action(sub, f"page {i + 1} annotation /AA {key}")


def analyze(data: bytes, max_pages: int, max_uris: int) -> tuple[Event, ...]:
    """Worker side (process pool): plain bytes in, plain tuples out."""
    walk = _Walk(max_uris)
    # Hostile input: whatever structure was read before an error still counts.
    with contextlib.suppress(Exception):
        _structure(data, walk, max_pages)
    raw = set(m.group(1) for m in _RAW.finditer(_HEX_NAME.sub(
        lambda m: bytes([int(m.group(1), 16)]), data)))
    if raw & {b"JavaScript", b"JS"} and Code.PDF_JAVASCRIPT.value not in walk.events:
        walk.hit(Code.PDF_JAVASCRIPT, Severity.MEDIUM, "JavaScript keyword in the file")
    if b"Launch" in raw and Code.PDF_LAUNCH.value not in walk.events:
        walk.hit(Code.PDF_LAUNCH, Severity.HIGH, "Launch keyword in the file")
    if b"EmbeddedFile" in raw and Code.PDF_EMBEDDED_FILE.value not in walk.events:
        walk.hit(Code.PDF_EMBEDDED_FILE, Severity.LOW, "EmbeddedFile keyword in the file")
    events = [(code, sev, tuple(ev)) for code, (sev, ev) in walk.events.items()]
    if walk.uris:
        events.append((Code.PDF_URI.value, Severity.LOW.value, tuple(walk.uris)))
    return tuple(events)


async def scan(msg: ParsedMessage, options: Options, ctx: ScanContext) -> list[Finding]:
    findings: list[Finding] = []
    for att in msg.attachments:
        if att.sniffed_type != "application/pdf" or len(att.data) < att.size:
            continue
        events, failed = await pooled.analyse(NAME, ctx, att, analyze, options.max_pages,
                                              options.max_uris)
        findings.extend(failed)
        findings.extend(
            Finding(scanner=NAME, code=Code(code), severity=Severity(sev), part=att.part_id,
                    evidence=bounded_evidence(list(ev)))
            for code, sev, ev in events)
        for code, _sev, ev in events:
            if code == Code.PDF_URI.value:
                findings.extend(classify_links(ev, att.part_id))
    return findings


def classify_links(uris: tuple[str, ...], part: str | None) -> list[Finding]:
    """LOW url_shortener / free_hosting / file_sharing findings for a PDF's URI actions."""
    lists = hosts.load()
    found: dict[str, list[str]] = {}
    for uri in uris:
        try:
            host = (urlsplit(uri.strip()).hostname or "").rstrip(".")
        except ValueError:
            continue  # hostile URI strings: not a link anyone can follow
        if not host:
            continue
        for category in lists.categories(host):
            found.setdefault(category, []).append(uri)
    return [Finding(scanner=NAME, code=Code(category), severity=Severity.LOW, part=part,
                    evidence=bounded_evidence([f"pdf link: {u}" for u in urls]))
            for category, urls in found.items()]
