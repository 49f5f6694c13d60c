"""Office documents: VBA macros (auto-exec, shell, download-and-run), remote template
injection and DDE fields, in OOXML and legacy OLE files, including decrypted copies.

Options: `macro_severity` (default low: a macro alone is common in business files).
Outputs:
- `office_macro` (low): VBA is present; evidence: module names.
- `office_macro_autoexec` (medium): runs on open (AutoOpen, Document_Open, Workbook_Open).
- `office_macro_suspicious` (medium; high together with auto-exec): shell, process,
  download, file-write or obfuscation keywords from olevba.
- `office_external_template` (high for http(s) targets, medium for UNC/other): an
  attachedTemplate, oleObject, frame or subDocument relationship with
  TargetMode="External" (template injection; a UNC path also leaks NTLM hashes).
- `office_dde` (high): DDE/DDEAUTO fields in document XML, or in a legacy Word stream.
Encrypted files are the expander's job (service/expand.py): it decrypts them and this
scanner then sees the plain copy as a derived attachment.
Limitations: Excel 4.0 (XLM) macros are reported only as far as olevba detects them;
DDE in legacy files is a byte search for the field code, not a field parse; plain
hyperlinks are the urls scanner's business. Parsing runs in the process pool.
"""

from __future__ import annotations

import contextlib
import io
import re
import zipfile
from dataclasses import dataclass

from service.model import (
    Attachment,
    Code,
    Finding,
    ParsedMessage,
    Severity,
    bounded_evidence,
)
from service.scanners import pooled
from service.scanners.base import ScanContext

NAME = "office"

Event = tuple[str, str, tuple[str, ...]]  # (Code value, Severity value, evidence)


@dataclass(frozen=True, slots=True)
class Options:
    macro_severity: str = "low"


_TYPES = frozenset({
    "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
    "application/x-ole-storage",
})
_OOXML_PREFIX = "application/vnd.openxmlformats-officedocument."
_REL = re.compile(rb"<Relationship\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(rb'(\w+)\s*=\s*"([^"]*)"')
_INJECTABLE = ("attachedtemplate", "oleobject", "frame", "subdocument")
_DDE_XML = re.compile(rb"(?:instrText[^>]*>|w:instr=\")\s*(DDEAUTO|DDE)\b[^<\"]{0,120}",
                      re.IGNORECASE)
_DDE_LINK = re.compile(rb"<ddeLink\b[^>]{0,200}", re.IGNORECASE)
_DDE_OLE = re.compile(rb"\x13\s*(?:DDEAUTO|DDE)\s|\x13\x00(?:\s\x00)*D\x00D\x00E\x00")
_XML_PART = re.compile(r"^(?:word|xl|ppt)/.*\.xml$|.*\.rels$")
_MAX_PART = 8 * 1024 * 1024
_DOWNLOAD_RUN = ("shell", "wscript", "powershell", "urldownloadtofile", "xmlhttp", "run",
                 "createprocess", "exec", "adodb.stream", "savetofile", "winhttp")


def is_office(att: Attachment) -> bool:
    sniffed = att.sniffed_type or ""
    return bool(att.data) and (sniffed in _TYPES or sniffed.startswith(_OOXML_PREFIX))


def _relationships(zf: zipfile.ZipFile, events: list[Event]) -> None:
    for info in zf.infolist():
        if not info.filename.endswith(".rels") or info.file_size > _MAX_PART:
            continue
        with zf.open(info) as stream:
            data = stream.read(_MAX_PART + 1)
        for tag in _REL.findall(data):
            attrs = {k.lower(): v for k, v in _ATTR.findall(tag)}
            if attrs.get(b"targetmode", b"").lower() != b"external":
                continue
            rel_type = attrs.get(b"type", b"").decode("utf-8", "replace").lower()
            kind = rel_type.rpartition("/")[2]
            if kind not in _INJECTABLE:
                continue
            target = attrs.get(b"target", b"").decode("utf-8", "replace")
            remote = target.lower().startswith(("http:", "https:"))
            events.append((Code.OFFICE_EXTERNAL_TEMPLATE.value,
                           (Severity.HIGH if remote else Severity.MEDIUM).value,
                           (f"{kind} in {info.filename}", f"target: {target}")))


def _ooxml_dde(zf: zipfile.ZipFile, events: list[Event]) -> None:
    for info in zf.infolist():
        if not _XML_PART.match(info.filename) or info.file_size > _MAX_PART:
            continue
        with zf.open(info) as stream:
            data = stream.read(_MAX_PART + 1)
        m = _DDE_XML.search(data) or _DDE_LINK.search(data)
        if m:
            events.append((Code.OFFICE_DDE.value, Severity.HIGH.value,
                           (f"{info.filename}: {m.group(0)[:120].decode('utf-8', 'replace')}",)))
            return


def _macros(data: bytes, macro_severity: str, events: list[Event]) -> None:
    from oletools.olevba import VBA_Parser

    parser = VBA_Parser("attachment", data=data, relaxed=True)
    try:
        if not parser.detect_vba_macros():
            return
        modules = [str(m[2]) for m in parser.extract_macros()][:8]
        events.append((Code.OFFICE_MACRO.value, macro_severity,
                       tuple(f"module: {m}" for m in modules)))
        autoexec: list[str] = []
        suspicious: list[str] = []
        for kind, keyword, _desc in parser.analyze_macros():
            if kind == "AutoExec":
                autoexec.append(str(keyword))
            elif kind == "Suspicious":
                suspicious.append(str(keyword))
    finally:
        parser.close()
    if autoexec:
        events.append((Code.OFFICE_MACRO_AUTOEXEC.value, Severity.MEDIUM.value,
                       tuple(f"auto-exec: {k}" for k in autoexec)))
    if suspicious:
        runs = any(k.lower() in _DOWNLOAD_RUN for k in suspicious)
        severity = Severity.HIGH if autoexec and runs else Severity.MEDIUM
        events.append((Code.OFFICE_MACRO_SUSPICIOUS.value, severity.value,
                       tuple(f"keyword: {k}" for k in suspicious)))


def analyze(data: bytes, macro_severity: str) -> tuple[Event, ...]:
    """Worker side (process pool): plain bytes in, plain tuples out."""
    events: list[Event] = []
    if data.startswith(b"PK"):
        # Hostile zips fail in many ways (zlib.error, BadZipFile, EOFError, ...): what
        # was read before the failure still counts.
        with contextlib.suppress(Exception), zipfile.ZipFile(io.BytesIO(data)) as zf:
            _relationships(zf, events)
            _ooxml_dde(zf, events)
    elif _DDE_OLE.search(data):
        events.append((Code.OFFICE_DDE.value, Severity.HIGH.value, ("DDE field code",)))
    # olevba on hostile input: no macro verdict, not a crash.
    with contextlib.suppress(Exception):
        _macros(data, macro_severity, events)
    return tuple(events)


async def scan(msg: ParsedMessage, options: Options, ctx: ScanContext) -> list[Finding]:
    severity = Severity.parse(options.macro_severity, Severity.LOW).value
    findings: list[Finding] = []
    for att in msg.attachments:
        if not is_office(att):
            continue
        events, failed = await pooled.analyse(NAME, ctx, att, analyze, severity)
        findings.extend(failed)
        findings.extend(
            Finding(scanner=NAME, code=Code(code), severity=Severity(sev), part=att.part_id,
                    evidence=bounded_evidence([f"filename: {att.filename or ''}", *ev]))
            for code, sev, ev in events)
    return findings
