"""Attachments scanner: dangerous types, double extensions, sniffed type vs extension."""

from __future__ import annotations

import pytest

from service.model import Code, Severity
from service.scanners import attachments
from service.scanners.base import ScanContext
from tests.factories import attachment, message

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
EXE = b"MZ" + b"\0" * 64


async def scan(data: bytes, filename: str, sniffed: str | None) -> dict[Code, Severity]:
    att = attachment(data, filename=filename, sniffed=sniffed)
    findings = await attachments.scan(message(attachments=(att,)), attachments.Options(),
                                      ScanContext())
    return {f.code: f.severity for f in findings}


@pytest.mark.parametrize(("filename", "data", "sniffed", "expected"), [
    ("invoice.pdf.exe", EXE, "application/x-msdownload",
     {Code.DANGEROUS_ATTACHMENT: Severity.HIGH, Code.DOUBLE_EXTENSION: Severity.HIGH}),
    ("scan.js", b"var x=1;", None, {Code.DANGEROUS_ATTACHMENT: Severity.HIGH}),
    ("Shipping.lnk", b"L\0\0\0", "application/x-ms-shortcut",
     {Code.DANGEROUS_ATTACHMENT: Severity.HIGH}),
    ("order.iso", b"\0", None, {Code.DANGEROUS_ATTACHMENT: Severity.MEDIUM}),
    ("notes.one", b"\0", None, {Code.DANGEROUS_ATTACHMENT: Severity.MEDIUM}),
    ("photo.jpg", EXE, "application/x-msdownload",
     {Code.DANGEROUS_ATTACHMENT: Severity.HIGH, Code.ATTACHMENT_TYPE_MISMATCH: Severity.MEDIUM}),
    ("remittance.pdf.html", b"<html><script>location='x'</script>", "text/html",
     {Code.DANGEROUS_ATTACHMENT: Severity.MEDIUM, Code.DOUBLE_EXTENSION: Severity.MEDIUM}),
    ("statement.pdf", b"<html><form action=x>", "text/html",
     {Code.DANGEROUS_ATTACHMENT: Severity.LOW, Code.ATTACHMENT_TYPE_MISMATCH: Severity.MEDIUM}),
    ("logo.svg", b"<svg onload=alert(1)>", "image/svg+xml",
     {Code.DANGEROUS_ATTACHMENT: Severity.MEDIUM}),
    ("invoice.pdf          .zip", b"PK\x03\x04", "application/zip",
     {Code.DOUBLE_EXTENSION: Severity.LOW}),
    ("chart.jpg", PNG, "image/png", {Code.ATTACHMENT_TYPE_MISMATCH: Severity.LOW}),
])
async def test_table(filename: str, data: bytes, sniffed: str | None,
                     expected: dict[Code, Severity]) -> None:
    assert await scan(data, filename, sniffed) == expected


@pytest.mark.parametrize(("filename", "data", "sniffed"), [
    ("report.pdf", b"%PDF-1.4", "application/pdf"),
    ("photo.jpeg", b"\xff\xd8\xff", "image/jpeg"),
    ("backup.tar.gz", b"\x1f\x8b", "application/gzip"),
    ("minutes.docx", b"PK", "application/vnd.openxmlformats-officedocument."
                            "wordprocessingml.document"),
    ("budget.xlsx", b"\xd0\xcf", "application/x-ole-storage"),  # encrypted OOXML
    ("patch.diff", b"--- a\n+++ b\n", None),
    ("signature.asc", b"-----BEGIN PGP", None),
])
async def test_honest_files_are_quiet(filename: str, data: bytes, sniffed: str | None) -> None:
    assert await scan(data, filename, sniffed) == {}


async def test_archive_members_are_judged_too_unless_disabled() -> None:
    member = attachment(EXE, filename="a.scr", sniffed="application/x-msdownload")
    member = type(member)(**{**{s: getattr(member, s) for s in member.__slots__},
                             "part_id": "2/1", "parent": "2", "depth": 1})
    msg = message(attachments=(member,))
    found = await attachments.scan(msg, attachments.Options(), ScanContext())
    assert [f.part for f in found] == ["2/1"]
    assert await attachments.scan(msg, attachments.Options(scan_members=False),
                                  ScanContext()) == []
