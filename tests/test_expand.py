"""Expander: encrypted Office and zips opened with harvested passwords, then YARA sees the
contents; bombs, nesting and entry counts stop at the limits; hangs are killed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from service import expand, procpool
from service.config import Limits, Settings
from service.engine import Engine
from service.model import Attachment, Code, Finding, Severity, VerdictLabel
from tests import docfactory as d

MARKER = "TRAWLER_HIDDEN_LURE_7731"
RULE = f'''
rule PHISH_Test_DecryptedMarker {{
  meta:
    id = "t-exp-1" description = "marker inside a decrypted attachment"
    severity = "high" action = "remediate" status = "stable"
  strings:
    $x = "{MARKER}"
  condition:
    part_kind == "attachment" and $x
}}
'''
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def engine(tmp_path: Path, **limits: float) -> Engine:
    """Roomy timeouts: CI shares two cores, and an Agile key costs up to 0.7 s there."""
    limits = {"scanner_timeout_s": 15.0, "message_deadline_s": 30.0, **limits}
    rules = tmp_path / "rules"
    rules.mkdir(parents=True)
    (rules / "test.yar").write_text(RULE)
    eng = Engine(Settings(rules=str(rules), scanners={"yara": {}},
                          limits=Limits(**limits)))  # type: ignore[arg-type]
    eng.load_rules()
    return eng


async def expanded(eng: Engine, raw: bytes) -> tuple[Attachment, ...]:
    """The attachments every scanner saw (the scan result keeps the parsed original)."""
    return (await expand.expand(eng.parse(raw), eng.ctx)).attachments


def codes(findings: tuple[Finding, ...]) -> dict[Code, list[Finding]]:
    out: dict[Code, list[Finding]] = {}
    for f in findings:
        out.setdefault(f.code, []).append(f)
    return out


async def test_encrypted_docx_with_password_in_body_is_decrypted_and_matched(
        tmp_path: Path) -> None:
    enc = d.encrypt_ooxml(d.docx(f"Wire the payment today {MARKER}"), "Summer2024!")
    raw = d.mail(body="Hello,\nthe invoice is protected.\nThe password is: Summer2024!\n",
                 attachments=[("invoice.docx", enc, DOCX)])
    eng = engine(tmp_path)
    result = await eng.scan_raw(raw)
    found = codes(result.verdict.findings)
    [decrypted] = found[Code.DECRYPTED_ATTACHMENT]
    assert decrypted.evidence == ("password 'Summer2024!' from body part 1",)
    assert decrypted.part == "2" and decrypted.severity is Severity.MEDIUM
    [match] = found[Code.RULE_MATCH]
    assert match.rule == "PHISH_Test_DecryptedMarker"
    # 2 = the encrypted file, 2/1 = the decrypted package, 2/1/n = its word/document.xml
    doc = next(a for a in await expanded(eng, raw) if a.part_id == match.part)
    assert doc.filename == "word/document.xml" and doc.parent == "2/1" and doc.depth == 2
    assert result.verdict.verdict is VerdictLabel.MALICIOUS


async def test_aes_zip_with_password_in_body_is_opened_and_matched(tmp_path: Path) -> None:
    payload = d.zip_of({"invoice.html": f"<html>{MARKER}</html>".encode()}, b"Inv2024")
    raw = d.mail(body="Passwort für das Archiv: Inv2024", subject="Rechnung",
                 attachments=[("rechnung.zip", payload, "application/zip")])
    eng = engine(tmp_path)
    result = await eng.scan_raw(raw)
    found = codes(result.verdict.findings)
    assert found[Code.DECRYPTED_ATTACHMENT][0].evidence == (
        "password 'Inv2024' from body part 1",)
    assert found[Code.RULE_MATCH][0].part == "2/1"
    member = (await expanded(eng, raw))[-1]
    assert (member.filename, member.parent, member.sniffed_type) == (
        "invoice.html", "2", "text/html")


async def test_encrypted_zip_without_a_usable_password_says_so(tmp_path: Path) -> None:
    payload = d.zip_of({"a.txt": MARKER.encode()}, b"unguessable")
    result = await engine(tmp_path).scan_raw(d.mail(body="password: wrong1",
                                                    attachments=[("a.zip", payload,
                                                                  "application/zip")]))
    found = codes(result.verdict.findings)
    assert Code.ENCRYPTED_ATTACHMENT in found and Code.RULE_MATCH not in found
    assert found[Code.ENCRYPTED_ATTACHMENT][0].severity is Severity.LOW


async def test_password_protected_7z(tmp_path: Path) -> None:
    payload = d.sevenzip_of({"a.txt": MARKER.encode()}, password="sieben7")
    result = await engine(tmp_path).scan_raw(d.mail(body="Code: sieben7", attachments=[
        ("a.7z", payload, "application/x-7z-compressed")]))
    found = codes(result.verdict.findings)
    assert found[Code.DECRYPTED_ATTACHMENT][0].evidence == (
        "password 'sieben7' from body part 1",)
    assert Code.RULE_MATCH in found


async def test_pdf_embedded_file_is_scanned(tmp_path: Path) -> None:
    raw = d.mail(attachments=[("doc.pdf", d.pdf(embedded={"payload.txt": MARKER.encode()}),
                                "application/pdf")])
    eng = engine(tmp_path)
    matched = {f.part for f in codes((await eng.scan_raw(raw)).verdict.findings)[Code.RULE_MATCH]}
    member = next(a for a in await expanded(eng, raw) if a.filename == "payload.txt")
    assert (member.part_id, member.parent) == ("2/1", "2")
    assert member.part_id in matched


async def test_zip_bomb_ends_within_the_deadline_with_a_limit_finding(tmp_path: Path) -> None:
    bomb = d.zip_bomb(1024)  # 1 GiB of zeros in ~1 MB
    eng = engine(tmp_path)
    started = time.perf_counter()
    raw = d.mail(attachments=[("bomb.zip", bomb, "application/zip")])
    result = await eng.scan_raw(raw)
    elapsed = time.perf_counter() - started
    assert elapsed < eng.settings.limits.message_deadline_s
    [bomb_finding] = codes(result.verdict.findings)[Code.ARCHIVE_BOMB]
    assert bomb_finding.part == "2" and bomb_finding.severity is Severity.MEDIUM
    assert len(await expanded(eng, raw)) == 1  # nothing of the bomb was kept


async def test_nested_archives_are_walked_to_the_depth_limit(tmp_path: Path) -> None:
    nested = d.nested_zip(MARKER.encode(), "deep.txt", layers=3)
    eng = engine(tmp_path)
    raw = d.mail(attachments=[("n.zip", nested, "application/zip")])
    result = await eng.scan_raw(raw)
    leaf = (await expanded(eng, raw))[-1]
    assert (leaf.filename, leaf.depth, leaf.part_id) == ("deep.txt", 3, "2/1/1/1")
    assert codes(result.verdict.findings)[Code.RULE_MATCH][0].part == "2/1/1/1"

    shallow = engine(tmp_path / "b", max_depth=2)
    result = await shallow.scan_raw(d.mail(attachments=[("n.zip", nested, "application/zip")]))
    found = codes(result.verdict.findings)
    assert Code.ARCHIVE_TOO_DEEP in found and Code.RULE_MATCH not in found


async def test_entry_count_limit(tmp_path: Path) -> None:
    many = d.zip_of({f"f{i}.txt": b"x" for i in range(50)})
    eng = engine(tmp_path, max_archive_entries=10)
    raw = d.mail(attachments=[("m.zip", many, "application/zip")])
    result = await eng.scan_raw(raw)
    assert Code.ARCHIVE_TOO_MANY_ENTRIES in codes(result.verdict.findings)
    assert len(await expanded(eng, raw)) == 1 + 10


async def test_password_tries_are_capped_per_file(tmp_path: Path) -> None:
    enc = d.encrypt_ooxml(d.docx(MARKER), "the-real-one")
    body = "\n".join(f"password: decoy{i}" for i in range(10)) + "\npassword: the-real-one"
    eng = engine(tmp_path, max_password_tries=3)
    result = await eng.scan_raw(d.mail(body=body, attachments=[("x.docx", enc, DOCX)]))
    found = codes(result.verdict.findings)
    assert Code.DECRYPTED_ATTACHMENT not in found
    assert "4 candidate(s)" in found[Code.ENCRYPTED_ATTACHMENT][0].evidence[0]


async def test_a_hanging_task_is_killed_at_its_timeout() -> None:
    pool = procpool.shared_pool()
    started = time.perf_counter()
    with pytest.raises(procpool.PoolTimeout):
        await pool.run(time.sleep, 30, timeout=0.5)
    assert time.perf_counter() - started < 3
    assert await pool.run(len, b"abc", timeout=5) == 3  # the pool still works


def test_pdf_goes_to_the_pool_only_when_it_may_hold_an_embedded_file() -> None:
    def att(data: bytes) -> Attachment:
        return Attachment("2", "doc.pdf", "application/pdf", "application/pdf", len(data),
                          "", data)

    assert expand.container_kind(att(d.pdf(embedded={"a.txt": b"x"}))) == "pdf"
    assert expand.container_kind(att(d.pdf(uri="https://example.test/"))) is None
    plain = d.pdf()
    # Where a byte search could miss the name tree, the pool still looks.
    hidden = plain.replace(b"%%EOF", b"1 0 obj <</Type /ObjStm>> endobj\n%%EOF")
    escaped = plain.replace(b"%%EOF", b"<</Embedded#46iles 2 0 R>>\n%%EOF")
    assert expand.container_kind(att(hidden)) == "pdf"
    assert expand.container_kind(att(escaped)) == "pdf"
