"""Lookalike domains: homoglyphs, punycode, typos, combosquats; and what is not one."""

from __future__ import annotations

import pytest

from service.lookalike import base_domain, damerau_levenshtein, lookalike_of, skeleton

PROTECTED = ("paypal.com", "trawlercorp.co.uk")


@pytest.mark.parametrize("domain,target,kind", [
    ("paypa1.com", "paypal.com", "homoglyph"),
    ("xn--pypal-4ve.com", "paypal.com", "punycode"),  # Cyrillic a
    ("paypla.com", "paypal.com", "typo"),
    ("paypall.net", "paypal.com", "typo"),
    ("secure-paypal-login.com", "paypal.com", "combosquat"),
    ("paypal.com.evil.example", "paypal.com", "combosquat"),
    ("trawlercrop.co.uk", "trawlercorp.co.uk", "typo"),
    ("mail.trawlerc0rp.com", "trawlercorp.co.uk", "homoglyph"),
])
def test_lookalikes(domain: str, target: str, kind: str) -> None:
    hit = lookalike_of(domain, PROTECTED)
    assert hit is not None and (hit.target, hit.kind) == (target, kind)


@pytest.mark.parametrize("domain", ["paypal.com", "www.paypal.com", "example.com", "ebay.com",
                                    "trawlercorp.co.uk", "a.trawlercorp.co.uk", "", "nodot"])
def test_not_lookalikes(domain: str) -> None:
    assert lookalike_of(domain, PROTECTED) is None


def test_helpers() -> None:
    assert base_domain("a.b.corp.co.uk") == "corp.co.uk"
    assert base_domain("mail.corp.com") == "corp.com"
    assert skeleton("rnicrosoft") == skeleton("microsoft")
    assert damerau_levenshtein("paypal", "papyal") == 1
    assert damerau_levenshtein("abc", "xyzxyz", limit=2) == 3
