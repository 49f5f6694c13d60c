"""Sender checks: syntax, Authentication-Results, impersonation, Reply-To, first-time, severity."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.model import Code, Finding, ParsedMessage, Severity
from service.scanners import headers
from service.scanners.base import ScanContext, load_scanners
from service.senderdata import parse_auth_results, selected_auth_results
from tests.factories import message

ORG = ("trawlercorp.example",)


async def run(msg: ParsedMessage, store: Any = None, **opts: Any) -> dict[Code, Finding]:
    ctx = ScanContext(store=store, organisation_domains=ORG)
    findings = await headers.scan(msg, headers.Options(**opts), ctx)
    return {f.code: f for f in findings}


def with_from(value: str, *extra: tuple[str, str]) -> ParsedMessage:
    msg = message(headers=extra)
    rest = tuple(h for h in msg.headers if h[0] != "From")
    return ParsedMessage(**{**{s: getattr(msg, s) for s in msg.__slots__},  # type: ignore[attr-defined]
                            "headers": (("From", value), *rest)})


async def test_ordinary_mail_has_no_findings() -> None:
    assert await run(message()) == {}


async def test_malformed_from_is_low_alone() -> None:
    found = await run(with_from("Microsoft account team ,_<no-reply@evil.example>"))
    assert set(found) == {Code.INVALID_ADDRESS, Code.DISPLAY_NAME_BRAND}
    # a bad From plus a brand name: two strong kinds
    assert found[Code.INVALID_ADDRESS].severity is Severity.MEDIUM
    alone = await run(with_from("Alice ,_<alice@ext.example>"))
    assert alone[Code.INVALID_ADDRESS].severity is Severity.LOW
    assert "more than one address" in alone[Code.INVALID_ADDRESS].evidence


async def test_topmost_authentication_results_only() -> None:
    msg = message(headers=(
        ("Authentication-Results", "mx.trawlercorp.example; spf=fail smtp.mailfrom=x.example;"
                                   " dkim=pass header.d=x.example; dmarc=fail header.from=x"),
        # lower down: written by whoever sent it, so never trusted
        ("Authentication-Results", "forged.example; spf=pass; dkim=fail; dmarc=pass"),
    ))
    found = await run(msg)
    assert set(found) == {Code.SPF_FAIL, Code.DMARC_FAIL}
    assert found[Code.SPF_FAIL].evidence[0].startswith("spf=fail")
    assert all(f.severity is Severity.LOW for f in found.values())


async def test_configured_authserv_id_picks_our_boundary() -> None:
    msg = message(headers=(
        ("Authentication-Results", "relay.other.example; dmarc=fail"),
        ("Authentication-Results", "MX.TrawlerCorp.example (our edge; v=1); dkim=fail (bad sig)"
                                   " header.d=x.example"),
    ))
    found = await run(msg, authserv_ids=("mx.trawlercorp.example",))
    assert set(found) == {Code.DKIM_FAIL}


async def test_exchange_online_compauth_without_authserv_id() -> None:
    value = ("spf=none (sender IP is 192.0.2.1) smtp.mailfrom=x.example; dkim=none (message "
             "not signed) header.d=none;dmarc=none action=none header.from=x.example;"
             "compauth=fail reason=001")
    assert [r.method for r in parse_auth_results(value)] == ["spf", "dkim", "dmarc", "compauth"]
    found = await run(message(headers=(("Authentication-Results", value),)))
    assert set(found) == {Code.DMARC_FAIL}
    assert "compauth=fail" in found[Code.DMARC_FAIL].evidence[0]


async def test_one_good_dkim_signature_is_enough() -> None:
    value = "mx.example; dkim=fail header.d=a.example; dkim=pass header.d=b.example"
    assert selected_auth_results([value], ()) and await run(
        message(headers=(("Authentication-Results", value),))) == {}


@pytest.mark.parametrize("display", ["PayPal Service", "P a y P a l", "\u0420\u0430y\u0420al",
                                     "Your PAYPAL account"])
async def test_brand_display_name_off_domain(display: str) -> None:
    found = await run(message(from_display=display, from_address="info@evil.example"))
    assert found[Code.DISPLAY_NAME_BRAND].severity is Severity.LOW
    assert "brand: paypal" in found[Code.DISPLAY_NAME_BRAND].evidence


async def test_brand_on_its_own_domain_or_free_mail() -> None:
    assert await run(message(from_display="PayPal", from_address="service@mail.paypal.de")) == {}
    assert await run(message(from_display="Pal Paypalooza", from_address="a@x.example")) == {}
    found = await run(message(from_display="PayPal", from_address="paypal.help@gmail.com"))
    assert found[Code.DISPLAY_NAME_BRAND].severity is Severity.MEDIUM


async def test_vip_name_from_outside_only() -> None:
    opts = {"vip_names": ("Jane Doe",)}
    found = await run(message(from_display="Doe, Jane", from_address="jd@gmail.com"), **opts)
    assert found[Code.DISPLAY_NAME_VIP].severity is Severity.MEDIUM
    inside = message(from_display="Jane Doe", from_address="jane@trawlercorp.example")
    assert await run(inside, **opts) == {}
    assert await run(message(from_display="Jane Smith", from_address="j@x.example"), **opts) == {}


async def test_reply_to_kinds() -> None:
    def msg(reply_to: str) -> ParsedMessage:
        return message(from_address="billing@vendor.example", from_display="Billing",
                       headers=(("Reply-To", reply_to),))

    assert await run(msg("Billing <ar@news.vendor.example>")) == {}
    assert set(await run(msg("ar@other.example"))) == {Code.REPLY_TO_MISMATCH}
    found = await run(msg("vendor.billing@gmail.com"))
    assert set(found) == {Code.REPLY_TO_FREEMAIL}
    assert "reply-to: vendor.billing@gmail.com" in found[Code.REPLY_TO_FREEMAIL].evidence


@pytest.mark.parametrize("domain,kind", [
    ("trawlercorq.example", "typo"),
    ("trawlecrorp.example", "typo"),
    ("trawlerc0rp.example", "homoglyph"),
    ("xn--trawlerorp-z8h.example", "punycode"),
    ("trawlercorp-secure.net", "combosquat"),
])
async def test_lookalike_of_our_domain(domain: str, kind: str) -> None:
    found = await run(message(from_address=f"it@{domain}"))
    f = found[Code.SENDER_LOOKALIKE]
    assert f.severity is Severity.MEDIUM
    assert f"kind: {kind}" in f.evidence and "imitates: trawlercorp.example" in f.evidence


async def test_impersonation_with_failed_auth_is_high_weak_pairs_stay_low() -> None:
    ar = ("Authentication-Results", "mx.example; dmarc=fail header.from=trawlercorq.example")
    found = await run(message(from_address="ceo@trawlercorq.example", headers=(ar,)))
    assert {f.severity for f in found.values()} == {Severity.HIGH}
    weak = message(from_address="a@x.example", headers=(
        ("Authentication-Results", "mx.example; spf=fail"), ("Reply-To", "b@y.example")))
    assert {f.severity for f in (await run(weak)).values()} == {Severity.LOW}


async def test_return_path_and_sender_syntax() -> None:
    ok = message(headers=(("Return-Path", "<>"), ("Sender", "list-bounces@lists.example")))
    assert await run(ok) == {}
    bad = message(headers=(("Return-Path", "<bounce@host-without-dot>"),))
    found = await run(bad)
    assert found[Code.INVALID_ADDRESS].evidence[0].startswith("Return-Path:")
    assert found[Code.INVALID_ADDRESS].severity is Severity.LOW


async def test_first_time_sender_is_counted_in_the_store(store: Any) -> None:
    first = await run(message(from_address="a@newco.example"), store)
    assert first[Code.FIRST_TIME_SENDER].evidence == ("domain: newco.example",)
    assert first[Code.FIRST_TIME_SENDER].severity is Severity.LOW
    # same organisation domain, other address: not new
    assert await run(message(from_address="b@mail.newco.example"), store) == {}
    # free-mail: by address, since the domain says nothing
    assert Code.FIRST_TIME_SENDER in await run(message(from_address="x@gmail.com"), store)
    assert Code.FIRST_TIME_SENDER in await run(message(from_address="y@gmail.com"), store)
    assert Code.FIRST_TIME_SENDER not in await run(message(from_address="x@gmail.com"), store)
    # our own people are never "new senders"
    assert await run(message(from_address="me@trawlercorp.example"), store) == {}
    by_addr = await run(message(from_address="c@newco.example"), store, first_time_by="address")
    assert Code.FIRST_TIME_SENDER in by_addr


async def test_first_time_sender_needs_a_store() -> None:
    assert await run(message(from_address="a@brand-new.example")) == {}


async def test_first_time_with_lookalike_escalates(store: Any) -> None:
    found = await run(message(from_address="x@trawlercorq.example"), store)
    assert found[Code.FIRST_TIME_SENDER].severity is Severity.MEDIUM


def test_registered_and_on_by_default() -> None:
    from service.config import Settings

    names = [s.name for s in load_scanners(dict(Settings().scanners))]
    assert "headers" in names and "indicators" in names
    with pytest.raises(Exception, match="unknown option"):
        load_scanners({"headers": {"vip_name": ["x"]}})


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.text(max_size=300), st.text(max_size=300))
async def test_hostile_headers_never_crash(from_value: str, reply: str, ar: str) -> None:
    msg = with_from(from_value, ("Reply-To", reply), ("Authentication-Results", ar),
                    ("Return-Path", reply))
    for f in (await run(msg, vip_names=("Jane Doe",))).values():
        assert len(f.evidence) <= 8 and all(len(e) <= 200 for e in f.evidence)


async def test_free_mail_sender_is_an_info_fact_only() -> None:
    found = await run(message(from_display="Alice", from_address="alice.home@gmail.com"))
    assert set(found) == {Code.SENDER_FREEMAIL}
    assert found[Code.SENDER_FREEMAIL].severity is Severity.INFO
    assert found[Code.SENDER_FREEMAIL].evidence == ("from: alice.home@gmail.com",)
    # It never raises the other findings' severity (people write from home).
    found = await run(message(from_display="Alice", from_address="alice.home@gmail.com",
                              headers=(("Reply-To", "alice@elsewhere.example"),)))
    assert found[Code.REPLY_TO_MISMATCH].severity is Severity.LOW
    assert Code.SENDER_FREEMAIL not in await run(
        message(from_display="Alice", from_address="alice@company.example"))
