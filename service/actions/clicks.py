"""Who clicked and who opened: the URL/attachment index and matching events to messages.

Every scanned message's normalized URLs, host+path and attachment hashes go into the
store's index log with a TTL; each process follows that log into in-memory dicts, so
matching a proxy event costs a host lookup (most events stop there) and, for a known
host, one normalize+unwrap. A match becomes an event record on the message: user, URL,
time, `before_remediation` / `after_remediation`, and a POST flagged as a possible
credential submission.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field

from service import metrics
from service.actions.weblogs import FileEvent, Users, WebEvent
from service.indicators import url_host_path
from service.model import ParsedMessage
from service.state.base import JSON, Store
from service.urls.collect import resolve
from service.urls.normalize import normalize
from service.urls.unwrap import WRAPPERS
from service.urls.unwrap import match as wrapper_for

log = logging.getLogger(__name__)

MSG_KIND = "msg"  # store record kind: recipients and arrival of every indexed message
DEFAULT_TTL_S = 14 * 86400
BEFORE, AFTER = "before_remediation", "after_remediation"


def message_tokens(msg: ParsedMessage) -> list[str]:
    """Index tokens: u:<normalized URL>, p:<host/path>, h:<attachment sha256>."""
    tokens: dict[str, None] = {}
    for url in msg.urls:
        for candidate in (url.url, normalize(url.original) or url.url):
            tokens[f"u:{candidate}"] = None
            host_path = url_host_path(candidate)
            if host_path:
                tokens[f"p:{host_path}"] = None
    for att in msg.attachments:
        tokens[f"h:{att.sha256.lower()}"] = None
    return list(tokens)


# Link-protector hosts, for a C-speed "could this be a wrapper" test before the table.
_WRAPPER_EXACT = frozenset(h for w in WRAPPERS for h in w.hosts if not h.startswith("."))
_WRAPPER_SUFFIXES = tuple(h for w in WRAPPERS for h in w.hosts if h.startswith("."))


def _fast_host(url: str) -> str:
    """The host as written, without parsing: enough to reject most events at once."""
    start = url.find("://")
    rest = url[start + 3:] if start >= 0 else url
    end = len(rest)
    for sep in "/?#":
        i = rest.find(sep)
        if 0 <= i < end:
            end = i
    host = rest[:end].rpartition("@")[2]
    if host.startswith("["):
        return host.lower()
    return host.partition(":")[0].lower().rstrip(".")


@dataclass
class UrlIndex:
    """In-process copy of the store's index log; `refresh` pulls only what is new."""

    store: Store
    refresh_s: float = 1.0
    max_keys: int = 50
    tokens: dict[str, dict[str, float]] = field(default_factory=dict)
    hosts: set[str] = field(default_factory=set)
    cursor: str = ""
    refreshed_at: float = float("-inf")  # monotonic time may be small: never "fresh" at start

    def add_local(self, token: str, key: str, expires: float) -> None:
        keys = self.tokens.setdefault(token, {})
        if key in keys or len(keys) < self.max_keys:
            keys[key] = max(expires, keys.get(key, 0.0))
        if token.startswith("p:"):
            self.hosts.add(token[2:].partition("/")[0])

    async def refresh(self) -> None:
        while True:
            changes, self.cursor = await self.store.index_changes(self.cursor, 10_000)
            for token, key, expires in changes:
                self.add_local(token, key, expires)
            if len(changes) < 10_000:
                break
        self.refreshed_at = time.monotonic()

    async def maybe_refresh(self) -> None:
        if time.monotonic() - self.refreshed_at >= self.refresh_s:
            await self.refresh()

    def _keys(self, token: str, now: float) -> set[str]:
        return {k for k, exp in self.tokens.get(token, {}).items() if exp > now}

    def _may_match(self, url: str) -> bool:
        host = _fast_host(url)
        if host in self.hosts:
            return True
        # A link protector or redirector hides the destination in its own URL.
        if (host in _WRAPPER_EXACT or host.endswith(_WRAPPER_SUFFIXES)) and \
                wrapper_for(url) is not None:
            return True
        query = url.find("?")
        return query >= 0 and "http" in url[query + 1:].lower()

    def lookup_url(self, url: str, now: float | None = None) -> set[str]:
        if not self._may_match(url):
            return set()
        now = time.time() if now is None else now
        resolved = resolve(url)
        if resolved is None:
            return set()
        keys = self._keys(f"u:{resolved.url}", now)
        host_path = url_host_path(resolved.url)
        if host_path:
            keys |= self._keys(f"p:{host_path}", now)
        return keys

    def lookup_hash(self, sha256: str, now: float | None = None) -> set[str]:
        return self._keys(f"h:{sha256.lower()}", time.time() if now is None else now)


async def index_message(store: Store, key: str, msg: ParsedMessage, recipients: list[str],
                        received_at: float, ttl_s: float) -> None:
    """Called by the pipeline for every scanned message (and again for new recipients)."""
    await store.put_record(MSG_KIND, key, {
        "key": key, "recipients": recipients, "received_at": received_at,
        "subject": msg.subject[:300], "sender": msg.from_address}, ttl_s=ttl_s)
    await store.index_add([(t, key) for t in message_tokens(msg)], ttl_s)


def _local(address: str) -> str:
    return address.partition("@")[0]


def is_recipient(user: str, recipients: list[str]) -> str | None:
    """The recipient address this user is, matching bare names by local part."""
    if user in recipients:
        return user
    if "@" not in user:
        return next((r for r in recipients if _local(r) == user), None)
    return None


async def removal_time(store: Store, key: str, recipient: str | None,
                       alert: JSON | None) -> float | None:
    """When the copy this user could click was removed: theirs, else the alert's."""
    if recipient is not None:
        record = (await store.get_remediations(key)).get(recipient)
        if record and record.get("result") in ("removed", "restored"):
            return float(record.get("ts") or 0) or None
    timeline = (alert or {}).get("timeline") or {}
    removed = timeline.get("removed")
    return float(removed) if isinstance(removed, int | float) else None


def timing(ts: float, removed_at: float | None) -> str:
    return AFTER if removed_at is not None and ts >= removed_at else BEFORE


class EventRecorder:
    """Matches web and file events to indexed messages and records them once each."""

    def __init__(self, store: Store, index: UrlIndex, users: Users,
                 ttl_s: float = DEFAULT_TTL_S) -> None:
        self.store = store
        self.index = index
        self.users = users
        self.ttl_s = ttl_s

    async def ingest_web(self, events: list[WebEvent]) -> dict[str, int]:
        await self.index.maybe_refresh()
        now = time.time()
        matched = 0
        for ev in events:
            keys = self.index.lookup_url(ev.url, now)
            hit = False
            for key in keys:
                detail = {"url": ev.url[:2048], "method": ev.method, "status": ev.status,
                          "client_ip": ev.client_ip,
                          "credential_submission": ev.method == "POST"}
                hit |= await self._record("click", key, ev.user, ev.ts, detail)
            matched += hit
        self._count("web", matched, len(events) - matched)
        return {"received": len(events), "matched": matched}

    async def ingest_files(self, events: list[FileEvent]) -> dict[str, int]:
        await self.index.maybe_refresh()
        now = time.time()
        matched = 0
        for ev in events:
            hit = False
            for key in self.index.lookup_hash(ev.sha256, now):
                detail = {"sha256": ev.sha256, "host": ev.host, "path": ev.path}
                hit |= await self._record("open", key, ev.user, ev.ts, detail)
            matched += hit
        self._count("file", matched, len(events) - matched)
        return {"received": len(events), "matched": matched}

    @staticmethod
    def _count(kind: str, matched: int, unmatched: int) -> None:
        if matched:
            metrics.WEB_EVENTS.labels(kind, "matched").inc(matched)
        if unmatched:
            metrics.WEB_EVENTS.labels(kind, "unmatched").inc(unmatched)

    async def _record(self, kind: str, key: str, raw_user: str, ts: float,
                      detail: JSON) -> bool:
        msg = await self.store.get_record(MSG_KIND, key)
        if msg is None:
            return False
        user = self.users.normalize(raw_user)
        recipient = is_recipient(user, list(msg.get("recipients", [])))
        alert = await self.store.find_alert_by_message(key)
        # A common link (a vendor's home page) sits in many clean messages: a click on it
        # only matters for someone who got that message, or for a flagged one.
        if recipient is None and alert is None:
            return False
        removed_at = await removal_time(self.store, key, recipient, alert)
        event = {"kind": kind, "user": recipient or user, "raw_user": raw_user[:256],
                 "recipient": recipient is not None, "ts": ts,
                 "timing": timing(ts, removed_at), **detail}
        eid = hashlib.sha256(repr((kind, key, event["user"], ts, sorted(detail.items())))
                             .encode("utf-8", "surrogatepass")).hexdigest()[:24]
        new = await self.store.add_event(key, eid, event, self.ttl_s)
        if new and alert is not None:
            count_event(event)
        return True


def count_event(event: JSON) -> None:
    counter = metrics.CLICKS if event.get("kind") == "click" else metrics.FILE_OPENS
    counter.labels(str(event.get("timing", BEFORE))).inc()


async def attach_earlier_events(store: Store, alert: JSON) -> list[JSON]:
    """When an alert is raised: events recorded while the message looked clean now count."""
    events = await store.list_events(str(alert.get("key")))
    for event in events:
        count_event(event)
    return events
