"""PDF scanner: JavaScript on open, Launch, URI actions, embedded files."""

from __future__ import annotations

from service.config import Limits
from service.model import Code, Finding, Severity
from service.scanners import pdf
from service.scanners.base import ScanContext
from tests import docfactory as d
from tests.factories import attachment, message

CTX = ScanContext(limits=Limits(scanner_timeout_s=15.0))


async def scan_pdf(data: bytes) -> dict[Code, Finding]:
    att = attachment(data, filename="doc.pdf", sniffed="application/pdf")
    findings = await pdf.scan(message(attachments=(att,)), pdf.Options(), CTX)
    return {f.code: f for f in findings}


async def test_uri_action_and_javascript_on_open() -> None:
    found = await scan_pdf(d.pdf(uri="https://login.evil.test/owa",
                                 javascript="app.launchURL('https://evil.test');"))
    assert found[Code.PDF_URI].evidence == ("https://login.evil.test/owa",)
    assert found[Code.PDF_URI].severity is Severity.LOW
    assert found[Code.PDF_JAVASCRIPT].severity is Severity.HIGH
    assert found[Code.PDF_OPEN_ACTION].severity is Severity.HIGH


async def test_launch_action_is_high() -> None:
    found = await scan_pdf(d.pdf(launch="cmd.exe"))
    assert found[Code.PDF_LAUNCH].severity is Severity.HIGH
    assert "cmd.exe" in found[Code.PDF_LAUNCH].evidence[0]


async def test_embedded_file_is_low() -> None:
    found = await scan_pdf(d.pdf(embedded={"a.exe": b"MZ" + b"\0" * 64}))
    assert set(found) == {Code.PDF_EMBEDDED_FILE}
    assert found[Code.PDF_EMBEDDED_FILE].severity is Severity.LOW


async def test_plain_pdf_is_quiet() -> None:
    assert await scan_pdf(d.pdf()) == {}


async def test_hex_escaped_keyword_in_an_unparseable_pdf_is_still_seen() -> None:
    broken = b"%PDF-1.7\n1 0 obj << /S /J#61vaScript /J#53 (app.alert(1)) >>\n%%garbage"
    found = await scan_pdf(broken)
    assert found[Code.PDF_JAVASCRIPT].severity is Severity.MEDIUM


async def test_pdf_links_are_classified_with_the_host_lists() -> None:
    # The urls scanner cannot read URIs inside compressed object streams; the pdf
    # scanner's structural walk can, and classifies them for the verdict policy.
    found = await scan_pdf(d.pdf(uri="https://bit.ly/3abcDEF"))
    assert found[Code.URL_SHORTENER].severity is Severity.LOW
    assert found[Code.URL_SHORTENER].evidence == ("pdf link: https://bit.ly/3abcDEF",)
    assert found[Code.URL_SHORTENER].scanner == "pdf"
    found = await scan_pdf(d.pdf(uri="https://docs.google.com/drawings/d/1EU6/preview"))
    assert Code.FREE_HOSTING in found
    # A CV's link to a profile page is no signal.
    found = await scan_pdf(d.pdf(uri="https://www.linkedin.com/in/someone"))
    assert set(found) == {Code.PDF_URI}


def test_link_classification_survives_junk_uris() -> None:
    assert pdf.classify_links(("http://[::1", "", "not a url", "mailto:a@b.example"), "2") == []
