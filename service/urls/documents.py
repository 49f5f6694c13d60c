"""URLs inside attachments: HTML/SVG/XML, calendar invites, text, Office packages, PDFs.

Scanner-time work (the parser stays fast). Office: `TargetMode="External"` relationship
targets from the package's `.rels` parts, read with zipfile under entry and byte caps.
PDF: `/URI` strings and `/Launch`/`/GoToR` file specs written as literal strings, found
by a bounded byte scan, which sees uncompressed objects only (the pdf scanner, with a
full parser, reports URI actions inside compressed object streams).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator

from service.model import Attachment
from service.urls.extract import Link, html_links, ics_urls, text_urls

MAX_DOC_BYTES = 10 * 1024 * 1024
MAX_RELS_PARTS = 200
MAX_RELS_BYTES = 1024 * 1024

_REL = re.compile(rb"<Relationship\b[^>]*>", re.IGNORECASE)
_TARGET = re.compile(rb"""Target\s*=\s*["']([^"']{1,4096})["']""", re.IGNORECASE)
_EXTERNAL = re.compile(rb"""TargetMode\s*=\s*["']External["']""", re.IGNORECASE)
_PDF_URI = re.compile(rb"/URI\s*\(((?:[^()\\]|\\.){1,4096})\)")
_PDF_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"(": b"(", b")": b")", b"\\": b"\\"}


def kind(att: Attachment) -> str:
    """Which extractor fits: html | ics | text | office | pdf | '' (none)."""
    ctype = att.effective_type.lower()
    name = (att.filename or "").lower()
    head = att.data[:512].lstrip().lower()
    if ctype in ("text/html", "image/svg+xml", "application/xhtml+xml") or name.endswith(
            (".html", ".htm", ".shtml", ".xhtml", ".svg", ".mht", ".mhtml")) or \
            head.startswith((b"<!doctype html", b"<html", b"<svg")):
        return "html"
    if ctype == "text/calendar" or name.endswith(".ics") or head.startswith(b"begin:vcalendar"):
        return "ics"
    if att.data.startswith(b"%PDF") or ctype == "application/pdf":
        return "pdf"
    if att.data.startswith(b"PK\x03\x04") and (
            "officedocument" in ctype or name.endswith(
                (".docx", ".docm", ".xlsx", ".xlsm", ".pptx", ".pptm", ".dotx", ".dotm"))):
        return "office"
    if ctype.startswith("text/") or name.endswith((".txt", ".url", ".eml")):
        return "text"
    return ""


def _decode(data: bytes) -> str:
    return data[:MAX_DOC_BYTES].decode("utf-8", "replace")


def office_targets(data: bytes) -> Iterator[str]:
    try:
        with zipfile.ZipFile(io.BytesIO(data[:MAX_DOC_BYTES])) as zf:
            names = [i for i in zf.infolist() if i.filename.endswith(".rels")]
            for info in names[:MAX_RELS_PARTS]:
                if info.file_size > MAX_RELS_BYTES:
                    continue
                with zf.open(info) as fh:
                    xml = fh.read(MAX_RELS_BYTES)
                for rel in _REL.finditer(xml):
                    tag = rel.group(0)
                    target = _TARGET.search(tag)
                    if target and _EXTERNAL.search(tag):
                        yield target.group(1).decode("utf-8", "replace").replace("&amp;", "&")
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError,
            RuntimeError):
        return


def _pdf_unescape(raw: bytes) -> bytes:
    return re.sub(rb"\\(.)", lambda m: _PDF_ESCAPES.get(m.group(1), m.group(1)), raw)


def pdf_uris(data: bytes) -> Iterator[str]:
    for m in _PDF_URI.finditer(data[:MAX_DOC_BYTES]):
        yield _pdf_unescape(m.group(1)).decode("latin-1")


def attachment_links(att: Attachment) -> list[Link]:
    """Links in one attachment, each tagged with where it was found."""
    if not att.data:
        return []
    which = kind(att)
    if which == "html":
        return html_links(_decode(att.data))
    if which == "ics":
        return [Link(u, "text") for u in ics_urls(_decode(att.data))]
    if which == "text":
        return [Link(u, "text") for u in text_urls(_decode(att.data))]
    if which == "office":
        return [Link(u, "office") for u in office_targets(att.data)]
    if which == "pdf":
        return [Link(u, "pdf") for u in pdf_uris(att.data)]
    return []
