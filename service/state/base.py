"""The Store protocol: everything Trawler must remember, behind one seam.

Two backends implement it and pass one contract suite (tests/state/test_contract.py):
SQLite for one machine with nothing installed, Redis for several replicas.
Values are JSON-able dicts; raw messages are bytes. Nothing is ever pickled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class QueueItem:
    """A journal message as a collector hands it over."""

    collector: str
    raw: bytes = field(repr=False)
    received_at: float  # unix time the collector saw it: starts time-to-remediate
    ref: str = ""  # collector's own reference (UID, file name) for logs and audit


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """A queued item leased to one consumer until acked or reclaimed."""

    entry_id: str
    item: QueueItem
    deliveries: int  # 1 on first delivery; more after a reclaim


@dataclass(frozen=True, slots=True)
class MergeResult:
    """Outcome of recording a message's recipients under its dedup key."""

    first_seen: bool  # no earlier report of this message
    new_recipients: tuple[str, ...]  # recipients not recorded before this call
    all_recipients: tuple[str, ...]


@runtime_checkable
class ResponseStore(Protocol):
    """What the response loop (issue 6) adds to the Store: both backends implement it.

    Its own protocol so what the response loop needs reads in one place; `Store` extends it.
    """

    # documents by kind (retro-hunt jobs, indexed messages, allowlist, dead letters)
    async def put_record(self, kind: str, rid: str, record: JSON,
                         ttl_s: float | None = None) -> None:
        """Insert or replace; listed newest-write first; gone after ttl_s when given."""
        ...

    async def get_record(self, kind: str, rid: str) -> JSON | None: ...
    async def list_records(self, kind: str, limit: int) -> list[JSON]:
        """Newest write first, expired records left out."""
        ...

    # URL / attachment index: an append-only change log that in-process caches follow
    async def index_add(self, entries: list[tuple[str, str]], ttl_s: float) -> None:
        """Append (token, message key) pairs valid for ttl_s."""
        ...

    async def index_changes(self, cursor: str, limit: int
                            ) -> tuple[list[tuple[str, str, float]], str]:
        """(token, key, expires_at) appended after `cursor` ("" = from the start), oldest
        first, with the cursor to pass next time. Expired entries may be left out."""
        ...

    # clicks and opens per message
    async def add_event(self, key: str, event_id: str, event: JSON, ttl_s: float) -> bool:
        """Record once: False when this event id was already recorded for the key."""
        ...

    async def list_events(self, key: str) -> list[JSON]:
        """Every event of the message, ordered by its `ts` field."""
        ...

    # per-rule statistics
    async def rule_stats_add(self, rule: str, counts: dict[str, int],
                             last_hit: float | None = None) -> None:
        """Add to named counters; last_hit only moves forward."""
        ...

    async def list_rule_stats(self) -> dict[str, JSON]:
        """rule -> {counter: int, ..., "last_hit": float | None}."""
        ...


@runtime_checkable
class Store(ResponseStore, Protocol):
    # lifecycle
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> bool: ...

    # queue: at-least-once; an entry stays pending until acked
    async def enqueue(self, item: QueueItem) -> str: ...
    async def consume(self, consumer: str, count: int, block_ms: int) -> list[QueueEntry]: ...
    async def ack(self, entry_id: str) -> None:
        """Done with an entry: it never comes back. Unknown ids are a no-op; malformed ones
        raise ValueError."""
        ...
    async def reclaim(self, consumer: str, min_idle_ms: int, count: int) -> list[QueueEntry]:
        """Take over entries another consumer leased and did not ack (XAUTOCLAIM)."""
        ...

    async def queue_depth(self) -> int:
        """Entries not yet acked: waiting plus leased."""
        ...

    # collector checkpoints: moved only after enqueue returned
    async def get_checkpoint(self, collector: str) -> str | None: ...
    async def set_checkpoint(self, collector: str, value: str) -> None: ...

    # dedup: a second journal report of a message merges recipients
    async def merge_recipients(self, key: str, recipients: list[str]) -> MergeResult:
        """Addresses are lower-cased; atomic, so two concurrent merges never both get a
        recipient as new."""
        ...

    # verdicts: one per dedup key (upsert)
    async def save_verdict(self, key: str, verdict: JSON) -> None: ...
    async def get_verdict(self, key: str) -> JSON | None: ...

    # alerts
    async def save_alert(self, alert_id: str, alert: JSON) -> None: ...
    async def get_alert(self, alert_id: str) -> JSON | None: ...
    async def list_alerts(self, limit: int, offset: int) -> list[JSON]:
        """Newest first, by the alert's numeric `created_at`, else by first save."""
        ...
    async def find_alert_by_message(self, key: str) -> JSON | None:
        """The alert last saved with this dedup key in its `key` field."""
        ...

    # remediation records: where each copy went, per (dedup key, recipient)
    async def save_remediation(self, key: str, recipient: str, record: JSON) -> None: ...
    async def get_remediations(self, key: str) -> dict[str, JSON]: ...

    # audit log: append-only
    async def audit(self, event: JSON) -> None: ...
    async def list_audit(self, limit: int) -> list[JSON]:
        """The newest `limit` events, newest first."""
        ...

    # counters in a sliding window: blast-radius guard, first-time senders
    async def window_add(self, name: str, member: str, window_s: float) -> int:
        """Record member at now; return how many distinct members fall inside the window."""
        ...

    async def incr(self, name: str, amount: int = 1) -> int: ...

    # indicators (service/indicators.py): records by "type:value"; expiry is the caller's
    async def put_indicator(self, key: str, record: JSON) -> None:
        """Insert or replace."""
        ...

    async def list_indicators(self) -> list[JSON]:
        """Every stored indicator, in key order."""
        ...

    async def delete_indicator(self, key: str) -> bool:
        """True when there was one to delete."""
        ...


class StoreUnavailable(ConnectionError):
    """The backing store cannot be reached right now; the same call may be retried later.

    The message names the backend and the cause, never a password or a full URL.
    """

