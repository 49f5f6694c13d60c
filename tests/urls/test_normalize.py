"""URL normalization: case, IDNA, default ports, percent-encoding, IPv4 shorthand."""

from __future__ import annotations

import pytest

from service.urls.normalize import host_of, ipv4_shorthand, normalize, normalize_slow


@pytest.mark.parametrize(("raw", "expected"), [
    ("HTTP://ExAmple.COM:80/a/./b/../c", "http://example.com/a/c"),
    ("https://example.com:443", "https://example.com/"),
    ("https://example.com:8443/x", "https://example.com:8443/x"),
    ("https://example.com/%7euser/%2f?q=%7e%2f#%41", "https://example.com/~user/%2F?q=~%2F#A"),
    ("https://пример.рф/путь", "https://xn--e1afmkfd.xn--p1ai/путь"),
    ("https://xn--e1afmkfd.xn--p1ai/", "https://xn--e1afmkfd.xn--p1ai/"),
    ("http://3232235777/", "http://192.168.1.1/"),
    ("http://0x7f.1/x", "http://127.0.0.1/x"),
    ("http://0177.0.0.1/", "http://127.0.0.1/"),
    ("//cdn.example.com/a b", "http://cdn.example.com/a%20b"),
    ("https://ex%41mple.com./", "https://example.com/"),
    ("http://[0:0::1]:8080/", "http://[::1]:8080/"),
])
def test_canonical_forms(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize("raw", ["javascript:alert(1)", "mailto:a@b.c", "http://a.com:99999/",
                                 "http://exa mple.com/", "http://", "data:text/html,x", ""])
def test_not_web_urls(raw: str) -> None:
    assert normalize(raw) is None


def test_idempotent_and_host() -> None:
    url = normalize("HTTPS://User@Sub.Example.ORG:443/p?x=1")
    assert url == "https://User@sub.example.org/p?x=1"
    assert normalize(url) == url
    assert host_of(url) == "sub.example.org"


def test_ipv4_shorthand_rejects_out_of_range() -> None:
    assert ipv4_shorthand("256.1.1.1") is None
    assert ipv4_shorthand("example.com") is None
    assert ipv4_shorthand("1.2.3.4") == "1.2.3.4"


@pytest.mark.parametrize("raw", [
    "https://www.example.com", "https://www.example.com/a/b?c=d&e=f#g",
    "http://a-b.example.co.uk/x.y/z~w;p=1,2+3!", "https://example.com/a/.b/c..d",
    "https://example.com/a/./b", "https://example.com/a/../b", "https://example.com/.",
    "https://EXAMPLE.com/", "https://example.com:443/", "https://1.2.3.4/",
    "https://example.com/%7e", "https://example.com/a b", "https://example.com./",
])
def test_fast_path_agrees_with_reference(raw: str) -> None:
    assert normalize(raw) == normalize_slow(raw)


def test_fast_path_refuses_a_host_longer_than_dns_allows() -> None:
    # found by the fuzz run: the canonical-URL regex alone accepted a 300-letter host
    url = "http://evil.example" + "a" * 300
    assert normalize_slow(url) is None
    assert normalize(url) is None
