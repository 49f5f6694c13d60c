"""The parser's `urls` come out normalized and unwrapped: what `trawler scan` prints."""

from __future__ import annotations

from email.message import EmailMessage

from service.mime import parse
from tests.urls.test_unwrap import ORIGINAL, proofpoint_v3, safelinks


def test_parsed_urls_are_unwrapped_and_normalized() -> None:
    wrapped = safelinks(proofpoint_v3(ORIGINAL))
    em = EmailMessage()
    em["From"] = "a@b.example"
    em["Subject"] = "Invoice"
    em.set_content(f"Plain: HTTPS://Docs.Example.COM:443/a/../inv\n{wrapped}\n")
    em.add_alternative(f'<p><a href="{wrapped.replace("&", "&amp;")}">Open</a></p>',
                       subtype="html")
    msg = parse(em.as_bytes())
    by_url = {u.url: u for u in msg.urls}
    assert set(by_url) == {"https://docs.example.com/inv", ORIGINAL}
    assert by_url[ORIGINAL].original == wrapped
    assert by_url["https://docs.example.com/inv"].source == "1"
