"""Attachment names and types: dangerous formats, double extensions, type vs extension lies.

Options: `scan_members` (default true: archive members and decrypted files count too),
`html_script_severity` (default medium: an HTML/SVG attachment carrying script).
Outputs:
- `dangerous_attachment`: executables, scripts, shortcuts, disk images, OneNote, HTA,
  XLL and friends, by extension or by sniffed type (high for executables and scripts,
  medium for containers that smuggle them: iso/img/vhd/one); HTML/SVG attachments with
  script (medium), or without (low).
- `double_extension`: "invoice.pdf.exe", "scan.pdf      .html" (high when the real
  extension is dangerous, else low).
- `attachment_type_mismatch`: sniffed type contradicts the extension (medium when the
  bytes are executable or HTML behind a document or image name, else low).
Limitations: judges names and magic only; what a document does is the office and pdf
scanners' job. Types the sniffer does not know (most text formats) never mismatch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.model import (
    Attachment,
    Code,
    Finding,
    ParsedMessage,
    Severity,
    bounded_evidence,
)
from service.scanners.base import ScanContext

NAME = "attachments"


@dataclass(frozen=True, slots=True)
class Options:
    scan_members: bool = True
    html_script_severity: str = "medium"


EXECUTABLE = frozenset({
    "exe", "scr", "com", "pif", "cpl", "msi", "msp", "dll", "bat", "cmd", "ps1", "psm1",
    "vbs", "vbe", "js", "jse", "wsf", "wsh", "wsc", "hta", "lnk", "xll", "jar", "reg",
    "msc", "appx", "appxbundle", "msix", "gadget", "inf", "scf", "application", "chm",
    "settingcontent-ms", "library-ms", "search-ms", "url", "xlam", "ppam", "sys", "ocx",
})
SMUGGLERS = frozenset({"iso", "img", "vhd", "vhdx", "one", "onepkg", "udf", "cab"})
WEB = frozenset({"html", "htm", "shtml", "xhtml", "svg", "mht", "mhtml", "xht"})
DOCUMENT = frozenset({
    "pdf", "doc", "docx", "docm", "xls", "xlsx", "xlsm", "xlsb", "ppt", "pptx", "pptm",
    "rtf", "txt", "csv", "odt", "ods", "jpg", "jpeg", "png", "gif", "bmp", "tif", "tiff",
    "webp", "mp3", "mp4", "wav", "zip", "rar", "7z", "eml", "msg", "xml", "json",
})
_SNIFFED_DANGEROUS = {
    "application/x-msdownload": Severity.HIGH,
    "application/x-elf": Severity.MEDIUM,
    "application/x-ms-shortcut": Severity.HIGH,
    "application/x-iso9660-image": Severity.MEDIUM,
    "application/x-vhd": Severity.MEDIUM,
    "application/x-vhdx": Severity.MEDIUM,
    "application/onenote": Severity.MEDIUM,
}
# Sniffed family -> extensions that honestly carry it. Absent families never mismatch.
_FAMILIES: dict[str, frozenset[str]] = {
    "application/pdf": frozenset({"pdf", "ai"}),
    "image/png": frozenset({"png"}),
    "image/jpeg": frozenset({"jpg", "jpeg", "jpe", "jfif", "pjpeg"}),
    "image/gif": frozenset({"gif"}),
    "application/x-msdownload": frozenset({"exe", "dll", "scr", "com", "sys", "ocx", "cpl",
                                           "msi", "efi", "mui", "drv", "xll"}),
    "text/html": WEB | {"htm", "html", "xhtml", "hta", "php", "asp", "aspx", "txt"},
    "image/svg+xml": frozenset({"svg", "svgz", "xml", "html", "htm"}),
    "application/zip": frozenset({"zip", "jar", "apk", "xpi", "epub", "odt", "ods", "odp",
                                  "kmz", "nupkg", "whl", "docx", "xlsx", "pptx", "vsdx",
                                  "xps", "oxps", "appx", "msix", "ipa", "crx", "3mf"}),
    "application/x-7z-compressed": frozenset({"7z"}),
    "application/vnd.rar": frozenset({"rar"}),
}
_OOXML = frozenset({"docx", "docm", "dotx", "dotm", "xlsx", "xlsm", "xltx", "xltm", "xlam",
                    "pptx", "pptm", "potx", "ppsx", "ppsm", "ppam", "vsdx"})
_OLE = frozenset({"doc", "dot", "xls", "xlt", "xla", "ppt", "pps", "pot", "msg", "msi",
                  "vsd", "pub", "mpp"})
_SCRIPT = re.compile(rb"<script\b|\bon(?:load|error|click|mouseover)\s*=|javascript:",
                     re.IGNORECASE)
_SPACES = re.compile(r"\s{3,}|[\u2000-\u200f\u202e\u2066-\u2069]")
_SCRIPT_PEEK = 512 * 1024


def extensions(filename: str) -> list[str]:
    """Lower-case extensions, last first: "a.PDF.exe" -> ["exe", "pdf"]."""
    parts = filename.strip().strip(".").lower().split(".")
    return [p.strip() for p in reversed(parts[1:]) if 0 < len(p.strip()) <= 20]


def _family_ok(sniffed: str, ext: str) -> bool:
    if sniffed.startswith("application/vnd.openxmlformats-officedocument."):
        return ext in _OOXML or ext == "zip"
    if sniffed in ("application/msword", "application/vnd.ms-excel",
                   "application/vnd.ms-powerpoint", "application/x-ole-storage"):
        return ext in _OLE or ext in _OOXML  # encrypted OOXML is an OLE container
    family = _FAMILIES.get(sniffed)
    return family is None or ext in family


def _finding(code: Code, severity: Severity, att: Attachment, *evidence: str) -> Finding:
    return Finding(scanner=NAME, code=code, severity=severity, part=att.part_id,
                   evidence=bounded_evidence([f"filename: {att.filename or ''}", *evidence]))


def check(att: Attachment, options: Options) -> list[Finding]:
    findings: list[Finding] = []
    name = att.filename or ""
    exts = extensions(name)
    last = exts[0] if exts else ""
    sniffed = att.sniffed_type or ""
    dangerous_ext = last in EXECUTABLE or last in SMUGGLERS
    if last in EXECUTABLE:
        findings.append(_finding(Code.DANGEROUS_ATTACHMENT,
                                 Severity.LOW if last == "url" else Severity.HIGH, att,
                                 f"extension .{last}"))
    elif last in SMUGGLERS:
        findings.append(_finding(Code.DANGEROUS_ATTACHMENT, Severity.MEDIUM, att,
                                 f"extension .{last}"))
    elif sniffed in _SNIFFED_DANGEROUS:
        findings.append(_finding(Code.DANGEROUS_ATTACHMENT, _SNIFFED_DANGEROUS[sniffed], att,
                                 f"sniffed {sniffed}"))
    if last in WEB or sniffed in ("text/html", "image/svg+xml"):
        scripted = _SCRIPT.search(att.data[:_SCRIPT_PEEK]) is not None
        severity = Severity.parse(options.html_script_severity, Severity.MEDIUM)
        findings.append(_finding(Code.DANGEROUS_ATTACHMENT,
                                 severity if scripted else Severity.LOW, att,
                                 "html/svg with script" if scripted else "html/svg attachment"))
    if len(exts) >= 2 and exts[1] in DOCUMENT and last not in DOCUMENT and last != exts[1]:
        severity = Severity.HIGH if dangerous_ext else Severity.LOW
        if last in WEB:
            severity = Severity.MEDIUM
        findings.append(_finding(Code.DOUBLE_EXTENSION, severity, att,
                                 f"extensions .{exts[1]}.{last}"))
    elif _SPACES.search(name):
        findings.append(_finding(Code.DOUBLE_EXTENSION, Severity.LOW, att,
                                 "padding or direction characters in the name"))
    if sniffed and last and not _family_ok(sniffed, last):
        severity = Severity.LOW
        if (sniffed in ("application/x-msdownload", "text/html", "image/svg+xml")
                and last in DOCUMENT):
            severity = Severity.MEDIUM
        findings.append(_finding(Code.ATTACHMENT_TYPE_MISMATCH, severity, att,
                                 f"extension .{last}", f"sniffed {sniffed}"))
    return findings


async def scan(msg: ParsedMessage, options: Options, ctx: ScanContext) -> list[Finding]:
    findings: list[Finding] = []
    for att in msg.attachments:
        if att.parent is not None and not options.scan_members:
            continue
        findings.extend(check(att, options))
    return findings
