"""service.sniff: the magic table checked as data (fixture bytes -> expected type)."""

from __future__ import annotations

import io
import zipfile

import pytest

from service.sniff import MAGIC, sniff


def _zip(*names: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in names:
            zf.writestr(name, b"<xml/>")
    return buf.getvalue()


OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
ISO = b"\x00" * 0x8001 + b"CD001" + b"\x00" * 100

CASES: list[tuple[str, bytes, str | None]] = [
    ("pdf", b"%PDF-1.4\n%...", "application/pdf"),
    ("pdf after junk", b"junk" * 50 + b"%PDF-1.7", "application/pdf"),
    ("zip", _zip("a.txt"), "application/zip"),
    ("docx", _zip("[Content_Types].xml", "word/document.xml"),
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("xlsx", _zip("[Content_Types].xml", "xl/workbook.xml"),
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("pptx", _zip("[Content_Types].xml", "ppt/presentation.xml"),
     "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    ("ole", OLE, "application/x-ole-storage"),
    ("doc", OLE + "WordDocument".encode("utf-16-le") + b"\x00\x00", "application/msword"),
    ("xls", OLE + "Workbook".encode("utf-16-le") + b"\x00\x00", "application/vnd.ms-excel"),
    ("rar", b"Rar!\x1a\x07\x01\x00", "application/vnd.rar"),
    ("7z", b"7z\xbc\xaf\x27\x1c\x00\x04", "application/x-7z-compressed"),
    ("gzip", b"\x1f\x8b\x08\x00", "application/gzip"),
    ("iso", ISO, "application/x-iso9660-image"),
    ("vhd", b"conectix\x00\x00", "application/x-vhd"),
    ("lnk", b"L\x00\x00\x00\x01\x14\x02\x00\x00\x00", "application/x-ms-shortcut"),
    ("pe", b"MZ\x90\x00\x03", "application/x-msdownload"),
    ("elf", b"\x7fELF\x02\x01", "application/x-elf"),
    ("png", b"\x89PNG\r\n\x1a\n\x00", "image/png"),
    ("jpeg", b"\xff\xd8\xff\xe0", "image/jpeg"),
    ("gif", b"GIF89a\x01\x00", "image/gif"),
    ("bmp", b"BM\x36\x00\x00\x00\x00\x00\x00\x00", "image/bmp"),
    ("text starting BM", b"BMW owners club newsletter", None),
    ("webp", b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
    ("onenote", b"\xe4\x52\x5c\x7b\x8c\xd8\xa7\x4d\x00", "application/onenote"),
    ("rtf", b"{\\rtf1\\ansi", "application/rtf"),
    ("html", b"\xef\xbb\xbf  \r\n<!DOCTYPE html><html>", "text/html"),
    ("html script", b"\n<script>location='x'</script>", "text/html"),
    ("html form", b"<FORM action=x>", "text/html"),
    ("html utf16", "\ufeff<html>".encode("utf-16-le"), "text/html"),
    ("svg", b"<svg xmlns='http://www.w3.org/2000/svg'>", "image/svg+xml"),
    ("plain text", b"hello world", None),
    ("empty", b"", None),
]


@pytest.mark.parametrize(("name", "data", "expected"), CASES, ids=[c[0] for c in CASES])
def test_sniff_table(name: str, data: bytes, expected: str | None) -> None:
    assert sniff(data) == expected


def test_every_table_entry_has_a_case() -> None:
    covered = {sniff(data) for _, data, _ in CASES}
    base = {"application/zip", "application/x-ole-storage"}
    missing = {mime for _, _, mime in MAGIC} - covered - base - {
        "application/x-bzip2", "application/x-xz", "application/x-vhdx",
        "application/vnd.ms-cab-compressed"}
    assert missing == set()
    assert sniff(b"BZh91AY") == "application/x-bzip2"
    assert sniff(b"\xfd7zXZ\x00\x00") == "application/x-xz"
    assert sniff(b"vhdxfile") == "application/x-vhdx"
    assert sniff(b"MSCF\x00\x00") == "application/vnd.ms-cab-compressed"
