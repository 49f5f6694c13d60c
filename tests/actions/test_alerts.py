"""Alert sinks against real servers: a signed webhook, retries, dead letter, a Redis Stream."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestServer

from service.actions.alerts import AlertSinks, suggest
from service.config import AlertSinksConfig, WebhookSink
from service.state.base import Store

SECRET = "hook-secret-7e1d"
ALERT = {"id": "A-1", "key": "k", "verdict": "malicious", "recipients": [{"address": "a@b"}]}


async def test_webhook_signed_retried_then_delivered(store: Store,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[bytes, str]] = []

    async def hook(request: web.Request) -> web.Response:
        seen.append((await request.read(), request.headers["X-Trawler-Signature"]))
        return web.Response(status=503 if len(seen) < 3 else 204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    async with TestServer(app) as server:
        cfg = AlertSinksConfig(webhooks=(WebhookSink(
            url=str(server.make_url("/hook")), secret_env="HOOK_SECRET", retries=3,
            backoff_s=0.01),))
        sinks = AlertSinks(cfg, store)
        sinks.publish("alert.created", ALERT)
        await sinks.drain()
    assert len(seen) == 3
    body, signature = seen[-1]
    assert signature == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert json.loads(body)["alert"]["id"] == "A-1"
    assert await store.list_records("deadletter", 10) == []


async def test_webhook_dead_letter_after_last_try(store: Store) -> None:
    async def hook(request: web.Request) -> web.Response:
        return web.Response(status=500)

    app = web.Application()
    app.router.add_post("/hook", hook)
    async with TestServer(app) as server:
        url = str(server.make_url("/hook")) + "?token=do-not-log-me"
        cfg = AlertSinksConfig(webhooks=(WebhookSink(url=url, retries=1, backoff_s=0.01),))
        sinks = AlertSinks(cfg, store)
        sinks.publish("alert.created", ALERT)
        await sinks.drain()
    [record] = await store.list_records("deadletter", 10)
    assert record["alert_id"] == "A-1" and record["attempts"] == 2
    assert record["error"] == "HTTP 500"
    assert "do-not-log-me" not in json.dumps(record)
    assert any(e.get("event") == "alert_dead_letter" for e in await store.list_audit(10))


async def test_redis_stream_sink(store: Store, redis_url: str) -> None:
    stream = f"test:{uuid.uuid4().hex}:alerts"
    cfg = AlertSinksConfig(redis_stream_url=redis_url, redis_stream_key=stream)
    sinks = AlertSinks(cfg, store)
    sinks.publish("alert.created", ALERT)
    await sinks.drain()
    client = aioredis.Redis.from_url(redis_url)
    try:
        [(_, fields)] = await client.xrange(stream)
        assert fields[b"event"] == b"alert.created"
        assert json.loads(fields[b"alert"])["alert"]["id"] == "A-1"
    finally:
        await client.delete(stream)
        await client.aclose()


def test_suggested_disposition() -> None:
    assert suggest([])["disposition"] == "DELIVERY"
    opened = suggest([{"kind": "open", "user": "d"}])
    assert (opened["disposition"], opened["credential_submission"]) == ("EXPLOITATION", False)
    posted = suggest([{"kind": "click", "user": "c", "credential_submission": True}])
    assert (posted["disposition"], posted["credential_submission"]) == ("EXPLOITATION", True)
