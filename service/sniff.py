"""Magic-byte content sniffing: what an attachment really is, whatever it claims to be.

The table is data (offset, magic, MIME type) so that adding a format is one line and the
tests can check it as a table. Containers whose magic is shared by several formats (ZIP
for OOXML, OLE2 for legacy Office) get a second, cheap look at their first few KB.
"""

from __future__ import annotations

import re
from collections.abc import Callable

OLE_STORAGE = "application/x-ole-storage"
ZIP = "application/zip"

# (offset, magic, type). First match wins, so longer/more specific magics come first.
MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", OLE_STORAGE),
    (0, b"PK\x03\x04", ZIP),
    (0, b"PK\x05\x06", ZIP),  # empty archive
    (0, b"PK\x07\x08", ZIP),  # spanned archive
    (0, b"Rar!\x1a\x07", "application/vnd.rar"),
    (0, b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (0, b"\x1f\x8b", "application/gzip"),
    (0, b"BZh", "application/x-bzip2"),
    (0, b"\xfd7zXZ\x00", "application/x-xz"),
    (0x8001, b"CD001", "application/x-iso9660-image"),
    (0x8801, b"CD001", "application/x-iso9660-image"),
    (0x9001, b"CD001", "application/x-iso9660-image"),
    (0, b"conectix", "application/x-vhd"),
    (0, b"vhdxfile", "application/x-vhdx"),
    (0, b"L\x00\x00\x00\x01\x14\x02\x00", "application/x-ms-shortcut"),
    (0, b"\xe4\x52\x5c\x7b\x8c\xd8\xa7\x4d", "application/onenote"),
    (0, b"{\\rtf", "application/rtf"),
    (0, b"MZ", "application/x-msdownload"),
    (0, b"\x7fELF", "application/x-elf"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"BM", "image/bmp"),
    (0, b"MSCF", "application/vnd.ms-cab-compressed"),
)

# Adobe readers accept a PDF header anywhere in the first 1 KB; phish pads it with junk.
_PDF_WINDOW = 1024
_PEEK = 8192
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_HTML_START = re.compile(
    rb"\s*(?:<!--.*?-->\s*)?<(?:!doctype\s+html|html|head|script|body|form|iframe|meta|svg)\b",
    re.IGNORECASE | re.DOTALL,
)
_OOXML = ((b"word/", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
          (b"xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
          (b"ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation"))
# OLE2 stream names are UTF-16LE in the directory, usually within the first sectors.
_OLE_STREAMS = (("WordDocument", "application/msword"),
                ("Workbook", "application/vnd.ms-excel"),
                ("Book", "application/vnd.ms-excel"),
                ("PowerPoint Document", "application/vnd.ms-powerpoint"))
_OLE_PEEK = 64 * 1024


def _refine_zip(data: bytes) -> str:
    head = data[:_PEEK]
    if b"[Content_Types].xml" in head:
        for marker, mime in _OOXML:
            if marker in head:
                return mime
    return ZIP


def _refine_ole(data: bytes) -> str:
    head = data[:_OLE_PEEK]
    for name, mime in _OLE_STREAMS:
        if name.encode("utf-16-le") + b"\x00\x00" in head:
            return mime
    return OLE_STORAGE


def _refine_bmp(data: bytes) -> str | None:
    # "BM" alone is too common in text; the header's reserved words are zero.
    return "image/bmp" if data[6:10] == b"\x00\x00\x00\x00" else None


_REFINE: dict[str, Callable[[bytes], str | None]] = {
    ZIP: _refine_zip, OLE_STORAGE: _refine_ole, "image/bmp": _refine_bmp,
}


def _html_type(data: bytes) -> str | None:
    head = data[:_PEEK]
    for bom in _BOMS:
        if head.startswith(bom):
            head = head[len(bom):]
            if bom != _BOMS[0]:
                # UTF-16: drop the NULs so the ASCII pattern can match.
                head = head.replace(b"\x00", b"")
            break
    m = _HTML_START.match(head)
    if m is None:
        return None
    return "image/svg+xml" if m.group(0).lower().endswith(b"svg") else "text/html"


def sniff(data: bytes) -> str | None:
    """The type the bytes say they are, or None when no magic is recognised."""
    for offset, magic, mime in MAGIC:
        if data.startswith(magic, offset):
            refine = _REFINE.get(mime)
            found = refine(data) if refine else mime
            if found is not None:
                return found
    if b"%PDF-" in data[:_PDF_WINDOW]:
        return "application/pdf"
    if data[8:12] == b"WEBP" and data.startswith(b"RIFF"):
        return "image/webp"
    return _html_type(data)
