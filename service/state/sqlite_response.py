"""The response-loop half of the SQLite store: records, the URL index log, events, rule stats.

A mixin so sqlite.py stays the queue-and-alerts store it was; it runs on the same
single-thread executor and connection (`_call`), and its tables join the same schema.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

from service.state.base import JSON
from service.state.codec import dec_text, dumps, enc_text, loads

RESPONSE_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    kind BLOB NOT NULL, rid BLOB NOT NULL, body TEXT NOT NULL, written REAL NOT NULL,
    expires_at REAL, PRIMARY KEY (kind, rid));
CREATE INDEX IF NOT EXISTS records_written ON records(kind, written DESC);
CREATE TABLE IF NOT EXISTS url_index (
    id INTEGER PRIMARY KEY AUTOINCREMENT, token BLOB NOT NULL, key BLOB NOT NULL,
    expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    key BLOB NOT NULL, eid BLOB NOT NULL, ts REAL NOT NULL, body TEXT NOT NULL,
    expires_at REAL NOT NULL, PRIMARY KEY (key, eid));
CREATE TABLE IF NOT EXISTS rule_stats (
    rule BLOB NOT NULL, field BLOB NOT NULL, value REAL NOT NULL, PRIMARY KEY (rule, field));
"""


def response_housekeeping(conn: sqlite3.Connection, now: float) -> None:
    conn.execute("DELETE FROM records WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,))
    conn.execute("DELETE FROM url_index WHERE expires_at <= ?", (now,))
    conn.execute("DELETE FROM events WHERE expires_at <= ?", (now,))


def _ts(event: JSON) -> float:
    value = event.get("ts")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


class SqliteResponseMixin:
    """Needs `_call(fn, *args)` running fn(conn, *args) on the store's thread."""

    _call: Callable[..., Any]

    async def put_record(self, kind: str, rid: str, record: JSON,
                         ttl_s: float | None = None) -> None:
        now, body = time.time(), dumps(record)
        expires = None if ttl_s is None else now + ttl_s
        await self._call(lambda c: c.execute(
            "INSERT INTO records (kind, rid, body, written, expires_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (kind, rid) DO UPDATE SET body = excluded.body, "
            "written = excluded.written, expires_at = excluded.expires_at",
            (enc_text(kind), enc_text(rid), body, now, expires)))

    async def get_record(self, kind: str, rid: str) -> JSON | None:
        row = await self._call(lambda c: c.execute(
            "SELECT body FROM records WHERE kind = ? AND rid = ? "
            "AND (expires_at IS NULL OR expires_at > ?)",
            (enc_text(kind), enc_text(rid), time.time())).fetchone())
        return None if row is None else loads(row[0])

    async def list_records(self, kind: str, limit: int) -> list[JSON]:
        if limit <= 0:
            return []
        rows = await self._call(lambda c: c.execute(
            "SELECT body FROM records WHERE kind = ? AND (expires_at IS NULL OR expires_at > ?) "
            "ORDER BY written DESC, rowid DESC LIMIT ?",
            (enc_text(kind), time.time(), limit)).fetchall())
        return [loads(r[0]) for r in rows]

    async def index_add(self, entries: list[tuple[str, str]], ttl_s: float) -> None:
        if not entries:
            return
        expires = time.time() + ttl_s
        rows = [(enc_text(t), enc_text(k), expires) for t, k in entries]
        await self._call(lambda c: c.executemany(
            "INSERT INTO url_index (token, key, expires_at) VALUES (?, ?, ?)", rows))

    async def index_changes(self, cursor: str, limit: int
                            ) -> tuple[list[tuple[str, str, float]], str]:
        after = int(cursor) if cursor.isdigit() else 0
        rows = await self._call(lambda c: c.execute(
            "SELECT id, token, key, expires_at FROM url_index WHERE id > ? AND expires_at > ? "
            "ORDER BY id LIMIT ?", (after, time.time(), max(limit, 1))).fetchall())
        if not rows:
            return [], str(after)
        return ([(dec_text(t), dec_text(k), float(e)) for _, t, k, e in rows],
                str(rows[-1][0]))

    async def add_event(self, key: str, event_id: str, event: JSON, ttl_s: float) -> bool:
        body = dumps(event)
        cur = await self._call(lambda c: c.execute(
            "INSERT OR IGNORE INTO events (key, eid, ts, body, expires_at) VALUES (?, ?, ?, ?, ?)",
            (enc_text(key), enc_text(event_id), _ts(event), body, time.time() + ttl_s)))
        return bool(cur.rowcount == 1)

    async def list_events(self, key: str) -> list[JSON]:
        rows = await self._call(lambda c: c.execute(
            "SELECT body FROM events WHERE key = ? AND expires_at > ? ORDER BY ts, eid",
            (enc_text(key), time.time())).fetchall())
        return [loads(r[0]) for r in rows]

    async def rule_stats_add(self, rule: str, counts: dict[str, int],
                             last_hit: float | None = None) -> None:
        await self._call(self._rule_stats_sync, rule, dict(counts), last_hit)

    @staticmethod
    def _rule_stats_sync(conn: sqlite3.Connection, rule: str, counts: dict[str, int],
                         last_hit: float | None) -> None:
        r = enc_text(rule)
        for field, amount in counts.items():
            conn.execute("INSERT INTO rule_stats (rule, field, value) VALUES (?, ?, ?) "
                         "ON CONFLICT (rule, field) DO UPDATE SET value = value + excluded.value",
                         (r, enc_text(field), int(amount)))
        if last_hit is not None:
            conn.execute("INSERT INTO rule_stats (rule, field, value) VALUES (?, ?, ?) "
                         "ON CONFLICT (rule, field) DO UPDATE SET "
                         "value = max(value, excluded.value)",
                         (r, b"last_hit", float(last_hit)))

    async def list_rule_stats(self) -> dict[str, JSON]:
        rows = await self._call(lambda c: c.execute(
            "SELECT rule, field, value FROM rule_stats ORDER BY rule").fetchall())
        out: dict[str, JSON] = {}
        for rule, field, value in rows:
            name = dec_text(field)
            stats = out.setdefault(dec_text(rule), {"last_hit": None})
            stats[name] = float(value) if name == "last_hit" else int(value)
        return out
