"""URL scanner: QR-only phish, nested link protectors, each finding code and its severity."""

from __future__ import annotations

import base64
import io
import zipfile
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

import pytest

from service.config import ConfigError
from service.mime import parse
from service.model import Code, Finding, ParsedMessage, Severity
from service.scanners import urls
from service.scanners.base import ScanContext, load_scanners
from tests.factories import attachment, message
from tests.urls.test_qr import qr_png
from tests.urls.test_unwrap import proofpoint_v3, safelinks

ORIGINAL = "https://evil.example.net/login?id=1&next=a"
CTX = ScanContext(organisation_domains=("contoso.com",))


async def run(msg: ParsedMessage, **options: object) -> dict[Code, Finding]:
    found = await urls.scan(msg, urls.Options(**options), CTX)  # type: ignore[arg-type]
    assert len({f.code for f in found}) == len(found), "one finding per code"
    return {f.code: f for f in found}


async def test_qr_code_only_phish_yields_the_unwrapped_url() -> None:
    em = EmailMessage()
    em["From"] = "IT Desk <it@desk.example>"
    em["To"] = "bob@contoso.com"
    em["Subject"] = "Re-validate your MFA"
    em["Message-ID"] = "<qr-1@desk.example>"
    em.set_content(qr_png(safelinks(proofpoint_v3(ORIGINAL))), maintype="image",
                   subtype="png", filename="scan.png")
    msg = parse(em.as_bytes())
    assert not msg.bodies and len(msg.attachments) == 1  # the image is all there is
    hits = await run(msg)
    assert hits[Code.QR_CODE_URL].evidence == (ORIGINAL,)
    assert hits[Code.QR_CODE_URL].severity is Severity.MEDIUM
    assert hits[Code.LOGIN_PATH].evidence == (ORIGINAL,)


async def test_qr_in_inline_data_image_and_limits() -> None:
    png = base64.b64encode(qr_png("https://inline.example/pay")).decode()
    msg = message(html=f'<p>Scan to pay</p><img src="data:image/png;base64,{png}">')
    assert (await run(msg))[Code.QR_CODE_URL].evidence == ("https://inline.example/pay",)
    assert Code.QR_CODE_URL not in await run(msg, qr=False)
    assert Code.QR_CODE_URL not in await run(msg, max_image_pixels=100)


async def test_safelinks_around_proofpoint_is_judged_on_the_original() -> None:
    hidden = "http://203.0.113.9/owa/auth.php"
    msg = message(html=f'<a href="{safelinks(proofpoint_v3(hidden))}">Open document</a>')
    hits = await run(msg)
    assert hits[Code.IP_LITERAL_HOST].evidence == (hidden,)
    assert hits[Code.LOGIN_PATH].severity is Severity.MEDIUM  # login form on a bare IP


async def test_link_text_mismatch_severity_depends_on_the_shown_domain() -> None:
    brand = message(html='<a href="https://collect.evil.example/x">www.paypal.com</a>')
    assert (await run(brand))[Code.LINK_TEXT_MISMATCH].severity is Severity.MEDIUM
    other = message(html='<a href="https://click.esp.example/t/1">www.shop.example</a>')
    assert (await run(other))[Code.LINK_TEXT_MISMATCH].severity is Severity.LOW
    same = message(html='<a href="https://links.shop.example/t">https://shop.example/sale</a>'
                        '<a href="https://evil.example/">click here</a>')
    assert Code.LINK_TEXT_MISMATCH not in await run(same)


async def test_lookalikes_of_organisation_and_brand_domains() -> None:
    hits = await run(message(text="Sign in: https://\u0441\u043entoso.com/portal"))  # Cyrillic
    assert hits[Code.LOOKALIKE_DOMAIN].severity is Severity.HIGH
    assert "contoso.com" in hits[Code.LOOKALIKE_DOMAIN].evidence[0]
    typo = await run(message(text="https://paypa1.com/ and https://micros0ft.com/"))
    assert typo[Code.LOOKALIKE_DOMAIN].severity is Severity.HIGH
    custom = await run(message(text="https://fabrikarn.com/"), brands=("fabrikam.com",))
    assert custom[Code.LOOKALIKE_DOMAIN].severity is Severity.HIGH  # rn -> m
    own = await run(message(text="https://www.contoso.com/login https://paypal.com/signin"))
    assert own == {}


async def test_host_lists_and_login_paths() -> None:
    hits = await run(message(text="https://bit.ly/3xYz https://evil.web.app/ "
                                  "https://www.dropbox.com/s/abc/invoice.pdf "
                                  "https://shop.example/account/login.php"))
    assert hits[Code.URL_SHORTENER].severity is Severity.LOW
    assert hits[Code.FREE_HOSTING].severity is Severity.LOW
    assert hits[Code.FILE_SHARING].severity is Severity.LOW
    assert hits[Code.LOGIN_PATH].severity is Severity.LOW
    combined = await run(message(text="https://evil.web.app/signin"))
    assert combined[Code.LOGIN_PATH].severity is Severity.MEDIUM


async def test_custom_host_list(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yaml"
    path.write_text("url_shortener: [sho.rt]\n")
    hits = await run(message(text="https://sho.rt/a https://bit.ly/b"), hosts_file=str(path))
    assert hits[Code.URL_SHORTENER].evidence == ("https://sho.rt/a",)


async def test_data_uris() -> None:
    nav = message(html='<a href="data:text/html;base64,PGgxPkhpPC9oMT4=">Open</a>')
    assert (await run(nav))[Code.DATA_URI].severity is Severity.MEDIUM
    frame = message(html='<iframe src="data:text/html,<form>"></iframe>')
    assert Code.DATA_URI in await run(frame)
    picture = message(html='<img src="data:image/svg+xml;base64,PHN2Zz4=">')
    assert await run(picture) == {}


def _docx(url: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("word/_rels/document.xml.rels",
                    f'<Relationships><Relationship Id="r1" Type="hyperlink" Target="{url}" '
                    'TargetMode="External"/></Relationships>')
    return buf.getvalue()


async def test_attachments_office_html_calendar() -> None:
    ics = b"BEGIN:VCALENDAR\r\nURL:https://bit.ly/meet\r\nEND:VCALENDAR\r\n"
    msg = message(attachments=(
        attachment(_docx("http://198.51.100.7/x"), "a.docx", part_id="2"),
        attachment(b"<html><form action='https://evil.web.app/p'></form></html>", "a.html",
                   "text/html", part_id="3"),
        attachment(ics, "invite.ics", "text/calendar", part_id="4"),
    ))
    hits = await run(msg)
    assert hits[Code.IP_LITERAL_HOST].part == "2"
    assert hits[Code.FREE_HOSTING].part == "3"
    assert hits[Code.URL_SHORTENER].part == "4"
    assert await run(msg, scan_attachments=False) == {}


async def test_ordinary_newsletter_is_not_flagged() -> None:
    html = ('<p>Our <a href="https://www.example.org/news/2024">news</a> and '
            '<a href="https://www.example.org/unsubscribe?u=1">unsubscribe</a>.</p>'
            '<img src="https://cdn.example.org/logo.png">')
    assert await run(message(text="https://www.example.org/news/2024", html=html)) == {}


def test_registered_with_validated_options() -> None:
    [loaded] = load_scanners({"urls": {"max_images": "3", "brands": ["fabrikam.com"]}})
    assert loaded.options == urls.Options(max_images=3, brands=("fabrikam.com",))
    with pytest.raises(ConfigError, match="unknown option"):
        load_scanners({"urls": {"fetch": True}})


async def test_unwrapped_brand_redirect_keeps_its_wrapper_name_out_of_evidence() -> None:
    wrapped = f"https://www.google.com/url?q={quote('https://bit.ly/x', safe='')}"
    hits = await run(message(text=wrapped))
    assert hits[Code.URL_SHORTENER].evidence == ("https://bit.ly/x",)
