"""Indicator matching: every type, file and store sources, expiry, refresh without round trips."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from service.indicators import (
    Indicator,
    IndicatorError,
    IndicatorIndex,
    IndicatorSet,
    load_file,
    subject_fingerprint,
)
from service.model import Action, Code, ParsedMessage, Severity, Url
from service.scanners import indicators as scanner
from service.scanners.base import ScanContext
from service.state import RedisStore
from tests.factories import attachment, message


def ind(kind: str, value: str, **kw: Any) -> Indicator:
    return Indicator.create(kind, value, source=kw.pop("source", "test"),
                            reason=kw.pop("reason", "r"), **kw)


def with_urls(msg: ParsedMessage, *urls: str) -> ParsedMessage:
    return dataclasses.replace(msg, urls=tuple(Url(u, u, "1") for u in urls))


async def found(msg: ParsedMessage, *items: Indicator) -> dict[str, Any]:
    index = IndicatorIndex(None, None)
    index._set = IndicatorSet.build(items)  # a pre-built set: no file, no store
    index._loaded_at = time.monotonic()
    fs = await scanner.scan(msg, scanner.Options(), ScanContext(indicators=index))
    assert all(f.code is Code.INDICATOR_MATCH for f in fs)
    return {str(f.rule): f for f in fs}


async def test_each_type_matches_where_it_should() -> None:
    pdf = attachment(b"%PDF-1.7 payload", filename="inv.pdf", part_id="2")
    msg = with_urls(message(subject="RE: Invoice 4711 overdue!", from_address="Bad@Evil.Example",
                            attachments=(pdf,), headers=(("Reply-To", "<drop@mule.example>"),)),
                    "https://login.kit.example:443/o365/index.php?x=1#frag",
                    "http://cdn.host.example/a/b/")
    items = [
        ind("email", "bad@evil.example"),
        ind("domain", "mule.example"),
        ind("url", "HTTPS://LOGIN.kit.example/o365/index.php?x=1"),
        ind("url_path", "cdn.host.example/a/b"),
        ind("sha256", hashlib.sha256(b"%PDF-1.7 payload").hexdigest().upper()),
        ind("subject", "Invoice 99 overdue"),
        ind("domain", "unrelated.example"),
    ]
    hits = await found(msg, *items)
    assert set(hits) == {i.key for i in items[:-1]}
    assert "seen in: Reply-To" in hits["domain:mule.example"].evidence
    assert "seen in: attachment inv.pdf" in hits[items[4].key].evidence
    assert hits["email:bad@evil.example"].severity is Severity.HIGH


async def test_domain_covers_subdomains_not_lookalikes() -> None:
    msg = with_urls(message(), "https://a.b.evil.example/x", "https://notevil.example/")
    hits = await found(msg, ind("domain", "evil.example"))
    assert list(hits) == ["domain:evil.example"]
    assert await found(with_urls(message(), "https://notevil.example/"),
                       ind("domain", "evil.example")) == {}


async def test_expired_never_matches_and_severity_action_carry() -> None:
    msg = message(from_address="x@evil.example")
    gone = ind("domain", "evil.example", expires=time.time() - 1)
    assert await found(msg, gone) == {}
    live = ind("email", "x@evil.example", severity="medium", action="remediate")
    [f] = (await found(msg, live)).values()
    assert (f.severity, f.action) == (Severity.MEDIUM, Action.REMEDIATE)


def test_subject_fingerprint_ignores_what_campaigns_vary() -> None:
    a = subject_fingerprint("RE: Fwd: Your account #48213 is SUSPENDED!!")
    assert a == subject_fingerprint("Your account 7 is suspended")
    assert a == subject_fingerprint("Y\u043eur acc\u043eunt 1 is suspended")  # Cyrillic o
    assert a != subject_fingerprint("Your account is active")
    assert subject_fingerprint("RE: 123 !!") is None and subject_fingerprint("") is None


@pytest.mark.parametrize("kind,value", [
    ("email", "no-at-sign"), ("domain", "nodot"), ("url", "not a url"), ("sha256", "abc"),
    ("subject", "!!!"), ("ip", "1.2.3.4"),
])
def test_bad_indicators_are_clear_errors(kind: str, value: str) -> None:
    with pytest.raises(IndicatorError):
        ind(kind, value)


def test_file_yaml_and_csv(tmp_path: Path) -> None:
    y = tmp_path / "indicators.yaml"
    y.write_text("indicators:\n  - {type: domain, value: evil.example, reason: kit,"
                 " expires: 2999-01-01}\n  - {type: email, value: a@b.example}\n")
    items = load_file(y)
    assert [(i.key, i.origin, i.source) for i in items] == [
        ("domain:evil.example", "file", "file:indicators.yaml"),
        ("email:a@b.example", "file", "file:indicators.yaml")]
    assert items[0].expires_at is not None and items[0].expires_at > time.time()
    c = tmp_path / "ioc.csv"
    c.write_text("type,value,source,reason,expires\nurl_path,evil.example/login,t,r,never\n")
    assert [i.key for i in load_file(c)] == ["url_path:evil.example/login"]
    y.write_text("- {type: domain, value: ok.example}\n- {type: domain, value: bad}\n")
    with pytest.raises(IndicatorError, match="entry 2"):
        load_file(y)


class CountingStore:
    """The real store, counting list_indicators calls (the round trips we must avoid)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.lists = 0

    async def list_indicators(self) -> list[dict[str, Any]]:
        self.lists += 1
        result: list[dict[str, Any]] = await self.inner.list_indicators()
        return result


async def test_store_and_file_refresh_in_memory(store: Any, tmp_path: Path) -> None:
    f = tmp_path / "indicators.yaml"
    f.write_text("- {type: domain, value: filed.example, reason: from git}\n")
    counting = CountingStore(store)
    index = IndicatorIndex(str(f), counting, refresh_s=0.2)
    ctx = ScanContext(indicators=index)
    msg = with_urls(message(), "https://filed.example/", "https://stored.example/")
    assert [x.rule for x in await scanner.scan(msg, scanner.Options(), ctx)] == [
        "domain:filed.example"]
    stored = ind("domain", "stored.example", reason="from analyst")
    await store.put_indicator(stored.key, stored.to_json())
    for _ in range(50):  # many messages inside one refresh interval: one store read
        await scanner.scan(msg, scanner.Options(), ctx)
    assert counting.lists == 1
    await asyncio.sleep(0.25)
    rules = {x.rule for x in await scanner.scan(msg, scanner.Options(), ctx)}
    assert rules == {"domain:filed.example", "domain:stored.example"}
    assert counting.lists == 2


async def test_store_outage_keeps_last_good_set(tmp_path: Path, redis_url: str) -> None:
    store = RedisStore(redis_url, prefix=f"test:{uuid.uuid4().hex}:")
    await store.open()
    try:
        x = ind("email", "x@evil.example")
        await store.put_indicator(x.key, x.to_json())
        index = IndicatorIndex(None, store, refresh_s=0.0)
        assert len(await index.current()) == 1
    finally:
        await store.close()
    unreachable = RedisStore("redis://127.0.0.1:1/0", retries=0)
    index.store = unreachable
    assert len(await index.current()) == 1  # Redis gone: still matching
    await unreachable.close()


async def test_no_index_or_empty_set_is_quiet() -> None:
    assert await scanner.scan(message(), scanner.Options(), ScanContext()) == []
    assert await found(message()) == {}
