"""Hostile input: 10,000 generated cases through extraction, normalization and unwrapping.

Inputs are stitched from the pieces the code branches on (schemes, wrapper hosts,
Proofpoint markers, percent signs, IDNA, brackets, markup) so that the cases reach deep
paths rather than bouncing off the first check. Nothing may raise; outputs stay
bounded; normalization is idempotent; unwrapping ends on a normalized URL; the scanner
itself runs on each case as a text and an HTML body.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.scanners import urls
from service.scanners.urls import scan_sync
from service.urls import normalize, resolve
from service.urls.extract import MAX_LINKS, MAX_URL_CHARS, html_links, ics_urls, text_urls
from service.urls.normalize import canonical_host, normalize_slow
from service.urls.unwrap import MAX_DEPTH, unwrap
from tests.factories import message

PIECES = [
    "http://", "https://", "HTTPS:\\\\", "//", "www.", "xn--", "xn--80ak6aa92e",
    "\u043f\u0440\u0438\u043c\u0435\u0440", "\u0440\u0430\u0443\u0440\u0430l", ".com",
    ".\u0440\u0444", ":", ":443", ":99999", "@", "[", "]", "::1", "0x7f.1",
    "3232235777", "%", "%25", "%2F", "%3A", "%7e", "%zz", "?", "&", "=", "#", "/", "../",
    "./", "\\", " ", "\n", "\t", "\x00", "url=", "u=", "q=", "a=",
    "urldefense.com/v3/__", "__;", "!!", "*", "**A", "**_", "Pw", "PyY", "$",
    "urldefense.proofpoint.com/v2/url?u=", "https-3A__", "-3A", "_",
    "nam02.safelinks.protection.outlook.com/?url=", "protect-eu.mimecast.com/s/",
    "www.google.com/url?q=", "l.facebook.com/l.php?u=", "secure-web.cisco.com/tok/",
    "linkprotect.cudasvc.com/url?a=", "<a href=\"", "\">", "</a>", "<form action='",
    "<meta http-equiv=refresh content='0;url=", "<style>", "url(", ")", "</style>",
    "&amp;", "&#104;", "data:text/html,", "data:image/png;base64,", "<svg>", "<!--",
    "BEGIN:VCALENDAR\r\n", "\r\n ", "evil.example", "paypal", "a" * 300, "https://www.example.com/a/b?c=d#e",
    "/.", "/..", ".x", "EXAMPLE", "-", "~", "'", "(", ";", ",", "+", "!",
]


def _stitch(seed: bytes) -> str:
    """Bytes to text: a byte picks a piece, or is a character itself; 0xFF plus two more
    bytes is any BMP code point (lone surrogates included, as 8-bit mail decodes to)."""
    out: list[str] = []
    i = 0
    while i < len(seed):
        b = seed[i]
        if b < len(PIECES):
            out.append(PIECES[b])
        elif b == 0xFF and i + 2 < len(seed):
            out.append(chr(int.from_bytes(seed[i + 1:i + 3], "big")))
            i += 2
        else:
            out.append(chr(b))
        i += 1
    return "".join(out)


# One binary draw per case: drawing lists of strings costs hypothesis several times
# more than the code under test, and 10,000 cases must stay fast.
texts = st.binary(max_size=48).map(_stitch)


@pytest.mark.timeout(300)
@settings(max_examples=10_000, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(texts)
def test_nothing_escapes_or_hangs(text: str) -> None:
    started = time.perf_counter()
    found = list(text_urls(text)) + list(ics_urls(text))
    links = html_links(text)
    assert len(links) <= MAX_LINKS
    for raw in [text, *found, *(link.url for link in links)]:
        assert len(raw) <= max(len(text), MAX_URL_CHARS)
        canonical = normalize(raw)
        if canonical_host(raw) is not None:
            assert canonical == normalize_slow(raw), "fast path disagrees with the reference"
        if canonical is not None:
            assert normalize(canonical) == canonical
            result = unwrap(canonical)
            assert len(result.chain) <= MAX_DEPTH
            assert normalize(result.url) == result.url
        resolve(raw)
    body = text.encode("utf-8", "replace").decode("utf-8")  # the parser's bodies are UTF-8
    findings = scan_sync(message(text=body, html=body), urls.Options(brands=("paypal.com",)),
                         ("evil.example",))
    assert len(findings) <= 20
    assert time.perf_counter() - started < 2.0
