"""The embedded Store: one SQLite file in WAL mode, driven from one dedicated thread.

sqlite3 blocks, so every statement runs on a single-thread executor that owns the
connection; the event loop only awaits. Several processes on one machine may share
the file: writes that lease queue rows are single statements (or BEGIN IMMEDIATE
transactions), and busy_timeout makes a second writer wait instead of failing.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Concatenate, Literal, ParamSpec, TypeVar

from service.state.base import JSON, MergeResult, QueueEntry, QueueItem, StoreUnavailable
from service.state.codec import (
    alert_message_key,
    alert_time,
    dec_text,
    dumps,
    enc_text,
    loads,
    normalize_addresses,
)
from service.state.keys import DEFAULT_AUDIT_MAXLEN, DEFAULT_TTL_S
from service.state.sqlite_response import (
    RESPONSE_SCHEMA,
    SqliteResponseMixin,
    response_housekeeping,
)

P = ParamSpec("P")
T = TypeVar("T")
Row = tuple[int, bytes, bytes, float, bytes, int]

_ENTRY_ID = re.compile(r"[0-9]{1,18}")
# Housekeeping (expired records, audit trimming) runs every this many writes.
_HOUSEKEEPING_EVERY = 1000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a stale ack cannot hit a new entry
    collector BLOB NOT NULL, raw BLOB NOT NULL, received_at REAL NOT NULL, ref BLOB NOT NULL,
    consumer BLOB, leased_at REAL, deliveries INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS queue_free ON queue(id) WHERE consumer IS NULL;
CREATE INDEX IF NOT EXISTS queue_leased ON queue(leased_at) WHERE consumer IS NOT NULL;
CREATE TABLE IF NOT EXISTS checkpoints (collector BLOB PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS seen (key BLOB PRIMARY KEY, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS recipients (
    key BLOB NOT NULL, address BLOB NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (key, address));
CREATE TABLE IF NOT EXISTS verdicts (
    key BLOB PRIMARY KEY, body TEXT NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS alerts (id BLOB PRIMARY KEY, created REAL NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS alerts_created ON alerts(created DESC, id DESC);
CREATE TABLE IF NOT EXISTS alerts_by_message (key BLOB PRIMARY KEY, alert_id BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS remediations (
    key BLOB NOT NULL, recipient BLOB NOT NULL, body TEXT NOT NULL, expires_at REAL NOT NULL,
    PRIMARY KEY (key, recipient));
CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS windows (
    name BLOB NOT NULL, member BLOB NOT NULL, at REAL NOT NULL, PRIMARY KEY (name, member));
CREATE TABLE IF NOT EXISTS counters (name BLOB PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS indicators (key BLOB PRIMARY KEY, body TEXT NOT NULL);
"""

_LEASE_RETURNING = "RETURNING id, collector, raw, received_at, ref, deliveries"


@contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """A write transaction that takes the lock up front, so read-then-write is atomic."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _entry(row: Row) -> QueueEntry:
    entry_id, collector, raw, received_at, ref, deliveries = row
    item = QueueItem(collector=dec_text(collector), raw=bytes(raw),
                     received_at=float(received_at), ref=dec_text(ref))
    return QueueEntry(entry_id=str(entry_id), item=item, deliveries=int(deliveries))


class SqliteStore(SqliteResponseMixin):
    """Store on a local SQLite file; see the module docstring for the threading model."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        ttl_s: float = DEFAULT_TTL_S,
        audit_max: int = DEFAULT_AUDIT_MAXLEN,
        busy_timeout_ms: int = 10_000,
        poll_ms: int = 20,
        synchronous: Literal["NORMAL", "FULL"] = "FULL",
    ) -> None:
        self.path = os.fspath(path)
        self.ttl_s = ttl_s
        self.audit_max = audit_max
        self._busy_timeout_ms = busy_timeout_ms
        self._poll_s = poll_ms / 1000
        self._synchronous = synchronous
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._wakeup = asyncio.Event()  # set by enqueue in this process: consumers wake early
        self._writes = 0

    # lifecycle

    async def open(self) -> None:
        if self._executor is not None:
            return
        self._wakeup = asyncio.Event()  # bound to the loop that opens the store
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trawler-sqlite")
        try:
            await self._call(self._open_sync)
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise

    def _open_sync(self, _: sqlite3.Connection | None) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self._busy_timeout_ms / 1000,
                               isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if self.path != ":memory:" and str(mode).lower() != "wal":
                raise StoreUnavailable(f"sqlite database {self.path}: WAL mode refused ({mode})")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.executescript(_SCHEMA + RESPONSE_SCHEMA)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._housekeeping(conn)

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        conn, self._conn = self._conn, None
        if conn is not None:
            await asyncio.get_running_loop().run_in_executor(executor, conn.close)
        executor.shutdown(wait=False)

    async def ping(self) -> bool:
        try:
            return await self._call(lambda c: c.execute("SELECT 1").fetchone() == (1,))
        except (sqlite3.Error, StoreUnavailable, RuntimeError):
            return False

    async def _call(
        self,
        fn: Callable[Concatenate[sqlite3.Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        executor = self._executor
        if executor is None:
            raise RuntimeError("SqliteStore is not open")

        def run() -> T:
            result = fn(self._conn, *args, **kwargs)  # type: ignore[arg-type]
            if isinstance(result, sqlite3.Cursor):
                # Close in this thread: a cursor freed later on the event loop's thread
                # resets its statement while this thread uses the connection, which
                # SQLite reports as "bad parameter or other API misuse".
                result.close()
            return result

        try:
            return await asyncio.get_running_loop().run_in_executor(executor, run)
        except sqlite3.OperationalError as exc:
            # "database is locked" after busy_timeout, disk full, file gone: retryable
            raise StoreUnavailable(f"sqlite database {self.path}: {exc}") from exc

    def _wrote(self, conn: sqlite3.Connection) -> None:
        self._writes += 1
        if self._writes % _HOUSEKEEPING_EVERY == 0:
            self._housekeeping(conn)

    def _housekeeping(self, conn: sqlite3.Connection) -> None:
        now = time.time()
        with _immediate(conn):
            conn.execute("DELETE FROM recipients WHERE key IN "
                         "(SELECT key FROM seen WHERE expires_at <= ?)", (now,))
            conn.execute("DELETE FROM seen WHERE expires_at <= ?", (now,))
            conn.execute("DELETE FROM verdicts WHERE expires_at <= ?", (now,))
            conn.execute("DELETE FROM remediations WHERE expires_at <= ?", (now,))
            conn.execute("DELETE FROM audit WHERE id <= (SELECT max(id) FROM audit) - ?",
                         (self.audit_max,))
            response_housekeeping(conn, now)

    # queue

    async def enqueue(self, item: QueueItem) -> str:
        entry_id = await self._call(self._enqueue_sync, item)
        self._wakeup.set()
        return entry_id

    def _enqueue_sync(self, conn: sqlite3.Connection, item: QueueItem) -> str:
        cur = conn.execute(
            "INSERT INTO queue (collector, raw, received_at, ref) VALUES (?, ?, ?, ?)",
            (enc_text(item.collector), item.raw, float(item.received_at), enc_text(item.ref)))
        return str(cur.lastrowid)

    async def consume(self, consumer: str, count: int, block_ms: int) -> list[QueueEntry]:
        if count <= 0:
            return []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(block_ms, 0) / 1000
        while True:
            self._wakeup.clear()
            entries = await self._call(self._lease_sync, consumer, count)
            remaining = deadline - loop.time()
            if entries or remaining <= 0:
                return entries
            # Another process may enqueue too, so the event only shortens the poll.
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), min(remaining, self._poll_s))

    def _lease_sync(self, conn: sqlite3.Connection, consumer: str,
                    count: int) -> list[QueueEntry]:
        # A read first: polling an empty queue must not take the write lock every 20 ms.
        if conn.execute("SELECT 1 FROM queue WHERE consumer IS NULL LIMIT 1").fetchone() is None:
            return []
        rows = conn.execute(
            "UPDATE queue SET consumer = ?, leased_at = ?, deliveries = deliveries + 1 "
            "WHERE id IN (SELECT id FROM queue WHERE consumer IS NULL ORDER BY id LIMIT ?) "
            + _LEASE_RETURNING, (enc_text(consumer), time.time(), count)).fetchall()
        return [_entry(r) for r in sorted(rows)]

    async def ack(self, entry_id: str) -> None:
        if not _ENTRY_ID.fullmatch(entry_id):
            raise ValueError("malformed queue entry id")
        await self._call(lambda c: c.execute("DELETE FROM queue WHERE id = ?", (int(entry_id),)))

    async def reclaim(self, consumer: str, min_idle_ms: int, count: int) -> list[QueueEntry]:
        if count <= 0:
            return []
        return await self._call(self._reclaim_sync, consumer, min_idle_ms, count)

    def _reclaim_sync(self, conn: sqlite3.Connection, consumer: str, min_idle_ms: int,
                      count: int) -> list[QueueEntry]:
        now = time.time()
        rows = conn.execute(
            "UPDATE queue SET consumer = ?, leased_at = ?, deliveries = deliveries + 1 "
            "WHERE id IN (SELECT id FROM queue WHERE consumer IS NOT NULL AND leased_at <= ? "
            "ORDER BY id LIMIT ?) " + _LEASE_RETURNING,
            (enc_text(consumer), now, now - max(min_idle_ms, 0) / 1000, count)).fetchall()
        return [_entry(r) for r in sorted(rows)]

    async def queue_depth(self) -> int:
        return await self._call(lambda c: int(c.execute("SELECT count(*) FROM queue")
                                              .fetchone()[0]))

    # checkpoints

    async def get_checkpoint(self, collector: str) -> str | None:
        row = await self._call(lambda c: c.execute(
            "SELECT value FROM checkpoints WHERE collector = ?",
            (enc_text(collector),)).fetchone())
        return None if row is None else dec_text(row[0])

    async def set_checkpoint(self, collector: str, value: str) -> None:
        await self._call(lambda c: c.execute(
            "INSERT INTO checkpoints (collector, value) VALUES (?, ?) "
            "ON CONFLICT (collector) DO UPDATE SET value = excluded.value",
            (enc_text(collector), enc_text(value))))

    # dedup

    async def merge_recipients(self, key: str, recipients: list[str]) -> MergeResult:
        return await self._call(self._merge_sync, key, normalize_addresses(recipients))

    def _merge_sync(self, conn: sqlite3.Connection, key: str,
                    addresses: list[str]) -> MergeResult:
        now, k = time.time(), enc_text(key)
        new: list[str] = []
        with _immediate(conn):
            row = conn.execute("SELECT expires_at FROM seen WHERE key = ?", (k,)).fetchone()
            first = row is None or row[0] <= now
            if first:
                conn.execute("DELETE FROM recipients WHERE key = ?", (k,))
            conn.execute("INSERT INTO seen (key, expires_at) VALUES (?, ?) ON CONFLICT (key) "
                         "DO UPDATE SET expires_at = excluded.expires_at", (k, now + self.ttl_s))
            seq = conn.execute("SELECT coalesce(max(seq), 0) FROM recipients WHERE key = ?",
                               (k,)).fetchone()[0]
            for addr in addresses:
                cur = conn.execute("INSERT OR IGNORE INTO recipients (key, address, seq) "
                                   "VALUES (?, ?, ?)", (k, enc_text(addr), seq + 1))
                if cur.rowcount == 1:
                    seq += 1
                    new.append(addr)
            everyone = [dec_text(r[0]) for r in conn.execute(
                "SELECT address FROM recipients WHERE key = ? ORDER BY seq", (k,))]
        self._wrote(conn)
        return MergeResult(first_seen=first, new_recipients=tuple(new),
                           all_recipients=tuple(everyone))

    # verdicts

    async def save_verdict(self, key: str, verdict: JSON) -> None:
        body = dumps(verdict)
        await self._call(lambda c: c.execute(
            "INSERT INTO verdicts (key, body, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) "
            "DO UPDATE SET body = excluded.body, expires_at = excluded.expires_at",
            (enc_text(key), body, time.time() + self.ttl_s)))

    async def get_verdict(self, key: str) -> JSON | None:
        row = await self._call(lambda c: c.execute(
            "SELECT body FROM verdicts WHERE key = ? AND expires_at > ?",
            (enc_text(key), time.time())).fetchone())
        return None if row is None else loads(row[0])

    # alerts

    async def save_alert(self, alert_id: str, alert: JSON) -> None:
        await self._call(self._save_alert_sync, alert_id, dumps(alert),
                         alert_time(alert), alert_message_key(alert))

    def _save_alert_sync(self, conn: sqlite3.Connection, alert_id: str, body: str,
                         created: float | None, key: str | None) -> None:
        aid = enc_text(alert_id)
        with _immediate(conn):
            # An update without a time of its own keeps the alert's place in the list.
            conn.execute(
                "INSERT INTO alerts (id, created, body) VALUES (?, ?, ?) ON CONFLICT (id) DO "
                "UPDATE SET body = excluded.body, created = coalesce(?, alerts.created)",
                (aid, time.time() if created is None else created, body, created))
            if key is not None:
                conn.execute("INSERT INTO alerts_by_message (key, alert_id) VALUES (?, ?) "
                             "ON CONFLICT (key) DO UPDATE SET alert_id = excluded.alert_id",
                             (enc_text(key), aid))

    async def get_alert(self, alert_id: str) -> JSON | None:
        row = await self._call(lambda c: c.execute(
            "SELECT body FROM alerts WHERE id = ?", (enc_text(alert_id),)).fetchone())
        return None if row is None else loads(row[0])

    async def list_alerts(self, limit: int, offset: int) -> list[JSON]:
        if limit <= 0:
            return []
        rows = await self._call(lambda c: c.execute(
            "SELECT body FROM alerts ORDER BY created DESC, id DESC LIMIT ? OFFSET ?",
            (limit, max(offset, 0))).fetchall())
        return [loads(r[0]) for r in rows]

    async def find_alert_by_message(self, key: str) -> JSON | None:
        row = await self._call(lambda c: c.execute(
            "SELECT a.body FROM alerts_by_message m JOIN alerts a ON a.id = m.alert_id "
            "WHERE m.key = ?", (enc_text(key),)).fetchone())
        return None if row is None else loads(row[0])

    # remediation records

    async def save_remediation(self, key: str, recipient: str, record: JSON) -> None:
        body = dumps(record)
        await self._call(lambda c: c.execute(
            "INSERT INTO remediations (key, recipient, body, expires_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (key, recipient) DO UPDATE SET body = excluded.body, "
            "expires_at = excluded.expires_at",
            (enc_text(key), enc_text(recipient.strip().lower()), body,
             time.time() + self.ttl_s)))

    async def get_remediations(self, key: str) -> dict[str, JSON]:
        rows = await self._call(lambda c: c.execute(
            "SELECT recipient, body FROM remediations WHERE key = ? AND expires_at > ?",
            (enc_text(key), time.time())).fetchall())
        return {dec_text(r[0]): loads(r[1]) for r in rows}

    # audit

    async def audit(self, event: JSON) -> None:
        await self._call(self._audit_sync, dumps(event))

    def _audit_sync(self, conn: sqlite3.Connection, body: str) -> None:
        conn.execute("INSERT INTO audit (body) VALUES (?)", (body,))
        self._wrote(conn)

    async def list_audit(self, limit: int) -> list[JSON]:
        """Newest first, like list_alerts."""
        if limit <= 0:
            return []
        rows = await self._call(lambda c: c.execute(
            "SELECT body FROM audit ORDER BY id DESC LIMIT ?", (limit,)).fetchall())
        return [loads(r[0]) for r in rows]

    # counters

    async def window_add(self, name: str, member: str, window_s: float) -> int:
        if not 0 < window_s < float("inf"):
            raise ValueError("window_s must be a positive number of seconds")
        return await self._call(self._window_sync, name, member, window_s)

    def _window_sync(self, conn: sqlite3.Connection, name: str, member: str,
                     window_s: float) -> int:
        now, n = time.time(), enc_text(name)
        with _immediate(conn):
            conn.execute("INSERT INTO windows (name, member, at) VALUES (?, ?, ?) "
                         "ON CONFLICT (name, member) DO UPDATE SET at = excluded.at",
                         (n, enc_text(member), now))
            conn.execute("DELETE FROM windows WHERE name = ? AND at <= ?", (n, now - window_s))
            count = conn.execute("SELECT count(*) FROM windows WHERE name = ?",
                                 (n,)).fetchone()[0]
        return int(count)

    async def incr(self, name: str, amount: int = 1) -> int:
        row = await self._call(lambda c: c.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) "
            "DO UPDATE SET value = counters.value + excluded.value RETURNING value",
            (enc_text(name), int(amount))).fetchone())
        return int(row[0])

    # indicators

    async def put_indicator(self, key: str, record: JSON) -> None:
        body = dumps(record)
        await self._call(lambda c: c.execute(
            "INSERT INTO indicators (key, body) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET body = excluded.body", (enc_text(key), body)))

    async def list_indicators(self) -> list[JSON]:
        rows = await self._call(lambda c: c.execute(
            "SELECT body FROM indicators ORDER BY key").fetchall())
        return [loads(r[0]) for r in rows]

    async def delete_indicator(self, key: str) -> bool:
        return await self._call(lambda c: c.execute(
            "DELETE FROM indicators WHERE key = ?", (enc_text(key),)).rowcount > 0)
