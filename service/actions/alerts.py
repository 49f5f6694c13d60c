"""Alerts out: the analyst's view of an alert, and the sinks (webhook, Redis Stream, log).

Webhooks are signed (`X-Trawler-Signature: sha256=<hex HMAC-SHA256 of the body>` with
the configured secret, plus `X-Trawler-Event` and `X-Trawler-Delivery`), retried with
exponential backoff, and after the last try a dead-letter record goes to the store
(kind `deadletter`) and the audit log, so nothing is lost silently. Delivery runs in
background tasks: a slow SOAR endpoint never holds up removal.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from service import metrics
from service.config import AlertSinksConfig, WebhookSink, read_secret
from service.state.base import JSON, Store

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Trawler-Signature"
DEAD_LETTER_KIND = "deadletter"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def suggest(events: list[JSON]) -> JSON:
    """DESIGN.md's kill-chain phases from what the events show."""
    posted = [e for e in events if e.get("kind") == "click" and e.get("credential_submission")]
    if posted:
        return {"disposition": "EXPLOITATION", "credential_submission": True,
                "reason": f"{len({e.get('user') for e in posted})} user(s) sent a POST "
                          "to a link of the message"}
    if events:
        return {"disposition": "EXPLOITATION", "credential_submission": False,
                "reason": "a link was clicked or an attachment opened"}
    return {"disposition": "DELIVERY", "credential_submission": False,
            "reason": "delivered; no click or open seen"}


async def alert_view(store: Store, alert: JSON) -> JSON:
    """Everything an analyst needs, assembled from the alert and its records."""
    key = str(alert.get("key", ""))
    events = await store.list_events(key)
    clicks = [e for e in events if e.get("kind") == "click"]
    opens = [e for e in events if e.get("kind") == "open"]
    exposed: dict[str, JSON] = {}
    for e in events:
        who = exposed.setdefault(str(e.get("user")), {
            "user": e.get("user"), "recipient": e.get("recipient", False), "clicked": False,
            "opened": False, "credential_submission": False, "timings": []})
        who["clicked"] |= e.get("kind") == "click"
        who["opened"] |= e.get("kind") == "open"
        who["credential_submission"] |= bool(e.get("credential_submission"))
        if e.get("timing") not in who["timings"]:
            who["timings"].append(e.get("timing"))
    timeline = dict(alert.get("timeline") or {})
    if clicks:
        timeline["first_click"] = min(float(e["ts"]) for e in clicks)
    if opens:
        timeline["first_open"] = min(float(e["ts"]) for e in opens)
    return {**alert, "remediation": await store.get_remediations(key), "clicks": clicks,
            "opens": opens, "exposed_users": sorted(exposed.values(), key=lambda u: u["user"]),
            "suggested_disposition": suggest(events), "timeline": timeline}


class AlertSinks:
    """Publishes alert events to every configured sink; `publish` returns at once."""

    def __init__(self, cfg: AlertSinksConfig, store: Store) -> None:
        self.cfg = cfg
        self.store = store
        self._tasks: set[asyncio.Task[None]] = set()
        # Secrets read once at start: a missing one is a config error there, not later.
        self._secrets = [read_secret(w.secret_env, w.secret_file) or "" for w in cfg.webhooks]

    def publish(self, event: str, alert: JSON) -> None:
        body = json.dumps({"event": event, "ts": time.time(), "alert": alert},
                          separators=(",", ":"), default=str).encode()
        if self.cfg.log:
            log.warning("alert %s %s: %s verdict, %d recipient(s)", alert.get("id"), event,
                        alert.get("verdict"), len(alert.get("recipients") or []),
                        extra={"alert_id": alert.get("id"), "event": event})
            metrics.ALERT_DELIVERIES.labels("log", "delivered").inc()
        for hook, secret in zip(self.cfg.webhooks, self._secrets, strict=True):
            self._spawn(self._webhook(hook, secret, event, body, str(alert.get("id"))))
        if self.cfg.redis_stream_url:
            self._spawn(self._stream(event, body, str(alert.get("id"))))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Wait for deliveries in flight (tests, shutdown); cancel what is left after that."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _webhook(self, hook: WebhookSink, secret: str, event: str, body: bytes,
                       alert_id: str) -> None:
        delivery = uuid.uuid4().hex
        headers = {"Content-Type": "application/json", "X-Trawler-Event": event,
                   "X-Trawler-Delivery": delivery, SIGNATURE_HEADER: sign(secret, body)}
        delay, error = hook.backoff_s, ""
        timeout = aiohttp.ClientTimeout(total=hook.timeout_s)
        for attempt in range(hook.retries + 1):
            try:
                async with aiohttp.ClientSession(timeout=timeout) as session, \
                        session.post(hook.url, data=body, headers=headers) as resp:
                    if 200 <= resp.status < 300:
                        metrics.ALERT_DELIVERIES.labels("webhook", "delivered").inc()
                        return
                    error = f"HTTP {resp.status}"
            except asyncio.CancelledError:
                raise
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                error = type(exc).__name__
            if attempt < hook.retries:
                metrics.ALERT_DELIVERIES.labels("webhook", "retry").inc()
                await asyncio.sleep(delay)
                delay *= 2
        metrics.ALERT_DELIVERIES.labels("webhook", "dead_letter").inc()
        # The URL may carry a token in its query: record only scheme, host and path.
        where = hook.url.split("?", 1)[0]
        record = {"sink": "webhook", "target": where, "event": event, "alert_id": alert_id,
                  "delivery": delivery, "error": error, "attempts": hook.retries + 1,
                  "ts": time.time(), "body": body.decode("utf-8", "replace")}
        log.error("webhook %s: giving up on alert %s after %d tries (%s)", where, alert_id,
                  hook.retries + 1, error)
        try:
            await self.store.put_record(DEAD_LETTER_KIND, delivery, record)
            await self.store.audit({k: v for k, v in record.items() if k != "body"}
                                   | {"event": "alert_dead_letter", "alert_event": event})
        except Exception as exc:  # the store is down too: the log line above remains
            log.error("dead-letter record not saved: %s", type(exc).__name__)

    async def _stream(self, event: str, body: bytes, alert_id: str) -> None:
        client = aioredis.Redis.from_url(str(self.cfg.redis_stream_url),
                                         socket_connect_timeout=2.0, socket_timeout=5.0)
        try:
            fields: dict[Any, Any] = {"event": event, "alert_id": alert_id, "alert": body}
            await client.xadd(self.cfg.redis_stream_key, fields,
                              maxlen=self.cfg.redis_stream_maxlen, approximate=True)
            metrics.ALERT_DELIVERIES.labels("redis_stream", "delivered").inc()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            metrics.ALERT_DELIVERIES.labels("redis_stream", "dead_letter").inc()
            log.error("alert stream: %s not published: %s", alert_id, type(exc).__name__)
        finally:
            await client.aclose()
