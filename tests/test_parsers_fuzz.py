"""Hostile input: 10,000 mutated cases each for archive walking, Office and PDF.

Every case runs the production worker function inside the process pool; a batch that
runs past its timeout is killed and fails the test, an exception that escapes the
function fails it, and so does any case slower than the scanner timeout.
TRAWLER_FUZZ_CASES sets the count per parser: 2,000 by default to keep the suite
fast on two cores; the acceptance run uses 10,000. Decryption costs 0.1-0.7 s per key
derivation, so its fuzz runs a hundredth of that count (at least 20 cases).
"""

from __future__ import annotations

import asyncio
import os

import pytest

from service import procpool
from service.config import Limits
from tests import docfactory as d
from tests import fuzzing

CASES = int(os.environ.get("TRAWLER_FUZZ_CASES", "2000"))
BATCH = 250
SCANNER_TIMEOUT = Limits().scanner_timeout_s
VBA = b'Attribute VB_Name = "M"\nSub AutoOpen()\n Shell "cmd /c calc"\nEnd Sub\n'
RELS = (f'<?xml version="1.0"?><Relationships xmlns="{d.R_NS}"><Relationship Id="r1" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'attachedTemplate" Target="https://evil.test/t.dotm" TargetMode="External"/>'
        "</Relationships>")
DDE = ('<w:p><w:r><w:instrText> DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe "/k calc"'
       "</w:instrText></w:r></w:p>")


def archive_seeds() -> tuple[tuple[str, bytes], ...]:
    small_doc = d.docx("fuzz", pad=0)
    return (
        ("zip", d.zip_of({"a.txt": b"hello " * 50, "b/c.html": b"<script>x</script>"})),
        ("zip", d.zip_of({"a.txt": b"secret " * 50}, password=b"fuzz")),
        ("zip", d.nested_zip(b"deep", "deep.txt", 2)),
        ("7z", d.sevenzip_of({"a.txt": b"seven " * 50})),
        ("ooxml", small_doc),
        ("pdf", d.pdf(embedded={"e.txt": b"embedded " * 20})),
    )


def office_seeds() -> tuple[tuple[str, bytes], ...]:
    return (
        ("office-scan", d.docx(body_xml=DDE, extra={"word/_rels/settings.xml.rels": RELS},
                               pad=0)),
        ("office-scan", d.docx("plain", pad=0)),
        ("office-scan", VBA),
        ("office-scan", d.encrypt_ooxml(d.docx("x"), "pw")),  # an OLE container
    )


def decrypt_seeds() -> tuple[tuple[str, bytes], ...]:
    return (("office", d.encrypt_ooxml(d.docx("x"), "fuzz")),)


def pdf_seeds() -> tuple[tuple[str, bytes], ...]:
    return (
        ("pdf-scan", d.pdf(uri="https://evil.test/a", javascript="app.alert(1)")),
        ("pdf-scan", d.pdf(launch="cmd.exe", embedded={"a.bin": b"MZ"})),
        ("pdf-scan", d.pdf()),
    )


async def run_fuzz(seeds: tuple[tuple[str, bytes], ...],
                   cases: int) -> tuple[int, float, list[str]]:
    pool = procpool.shared_pool()
    # A batch may take BATCH cases x the scanner timeout at worst; any single case
    # slower than that is reported below, any real hang is killed here.
    timeout = BATCH * SCANNER_TIMEOUT
    results = await asyncio.gather(*(
        pool.run(fuzzing.batch, seeds, start, min(BATCH, cases - start), timeout=timeout)
        for start in range(0, cases, BATCH)))
    total = sum(r[0] for r in results)
    slowest = max(r[1] for r in results)
    escapes = [e for r in results for e in r[2]]
    return total, slowest, escapes


@pytest.mark.timeout(900)
@pytest.mark.parametrize(("seeds", "cases"), [
    (archive_seeds, CASES), (office_seeds, CASES), (pdf_seeds, CASES),
    (decrypt_seeds, max(20, CASES // 100)),
], ids=["archives", "office", "pdf", "office-decrypt"])
async def test_fuzz(seeds: object, cases: int) -> None:
    assert callable(seeds)
    total, slowest, escapes = await run_fuzz(seeds(), cases)
    print(f"{total} cases, slowest {slowest:.3f}s")
    assert total == cases
    assert escapes == []
    assert slowest < SCANNER_TIMEOUT, f"slowest case {slowest:.2f}s"
