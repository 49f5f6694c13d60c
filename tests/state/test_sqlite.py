"""SQLite-only behaviour: WAL, durability, sharing the file, never blocking the loop."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from service.state import QueueItem, SqliteStore, StoreUnavailable, open_store


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(tmp_path / "nested" / "dir" / "state.db")
    await store.open()
    yield store
    await store.close()


def item(ref: str) -> QueueItem:
    return QueueItem(collector="journal", raw=b"\x00raw", received_at=1.5, ref=ref)


async def test_creates_parent_dirs_and_uses_wal(sqlite_store: SqliteStore) -> None:
    conn = sqlite3.connect(sqlite_store.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


async def test_enqueue_is_committed_when_it_returns(sqlite_store: SqliteStore) -> None:
    entry_id = await sqlite_store.enqueue(item("r1"))
    conn = sqlite3.connect(sqlite_store.path)  # another connection sees it at once
    try:
        row = conn.execute("SELECT raw FROM queue WHERE id = ?", (int(entry_id),)).fetchone()
    finally:
        conn.close()
    assert row == (b"\x00raw",)


async def test_queue_survives_reopen(tmp_path: Path) -> None:
    first = SqliteStore(tmp_path / "state.db")
    await first.open()
    await first.enqueue(item("kept"))
    [leased] = await first.consume("c1", 1, 0)
    await first.close()
    second = SqliteStore(tmp_path / "state.db")
    await second.open()
    try:
        assert await second.queue_depth() == 1
        [again] = await second.reclaim("c2", 0, 1)
        assert (again.entry_id, again.item, again.deliveries) == (leased.entry_id, leased.item, 2)
    finally:
        await second.close()


async def test_loop_keeps_running_while_the_file_is_locked(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db", busy_timeout_ms=5000)
    await store.open()
    blocker = sqlite3.connect(store.path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another process holding the write lock
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        pending = asyncio.create_task(store.enqueue(item("waits")))
        await asyncio.sleep(0.3)
        assert not pending.done()
        assert ticks >= 10  # the event loop was never blocked by the waiting write
        blocker.execute("COMMIT")
        await asyncio.wait_for(pending, 5)
        ticker.cancel()
        assert await store.queue_depth() == 1
    finally:
        blocker.close()
        await store.close()


async def test_lock_held_too_long_is_store_unavailable(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db", busy_timeout_ms=100)
    await store.open()
    blocker = sqlite3.connect(store.path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailable, match="locked"):
            await store.enqueue(item("x"))
        blocker.execute("ROLLBACK")
        await store.enqueue(item("x"))  # retry works once the lock is gone
    finally:
        blocker.close()
        await store.close()


_PRODUCER = """
import asyncio, sys
from service.state import QueueItem, SqliteStore

async def main() -> None:
    store = SqliteStore(sys.argv[1])
    await store.open()
    for n in range(20):
        await store.enqueue(QueueItem("journal", b"\\xff%d" % n, 1.0, f"p{n}"))
    await store.close()

asyncio.run(main())
"""


async def test_another_process_shares_the_file(sqlite_store: SqliteStore) -> None:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", _PRODUCER,
                                                sqlite_store.path,
                                                stderr=subprocess.PIPE)
    got: list[str] = []
    deadline = time.monotonic() + 30
    while len(got) < 20 and time.monotonic() < deadline:
        for entry in await sqlite_store.consume("parent", 5, 200):
            got.append(entry.item.ref)
            await sqlite_store.ack(entry.entry_id)
    _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode(errors="replace")
    assert sorted(got) == sorted(f"p{n}" for n in range(20))


async def test_records_expire_after_ttl(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db", ttl_s=0.2)
    await store.open()
    try:
        await store.save_verdict("k", {"v": 1})
        await store.save_remediation("k", "a@x", {"uid": 1})
        assert (await store.merge_recipients("k", ["a@x"])).first_seen
        await asyncio.sleep(0.3)
        assert await store.get_verdict("k") is None
        assert await store.get_remediations("k") == {}
        again = await store.merge_recipients("k", ["a@x"])
        assert again.first_seen and again.new_recipients == ("a@x",)
    finally:
        await store.close()


async def test_closed_store_refuses_calls(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db")
    with pytest.raises(RuntimeError, match="not open"):
        await store.queue_depth()
    await store.open()
    await store.close()
    assert await store.ping() is False


async def test_audit_is_trimmed_to_its_cap(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db", audit_max=10)
    await store.open()
    for n in range(30):
        await store.audit({"n": n})
    await store.close()
    await store.open()  # housekeeping runs at open and every 1000 writes
    try:
        assert [e["n"] for e in await store.list_audit(100)] == list(range(29, 19, -1))
    finally:
        await store.close()


async def test_cursors_never_outlive_the_store_thread(tmp_path: Path) -> None:
    """Regression: cursors returned to the event loop and freed there raced the store
    thread ("bad parameter or other API misuse") under concurrent writes."""
    store = open_store(f"sqlite:///{tmp_path / 'race.db'}")
    await store.open()
    try:
        async def one(i: int) -> None:
            await store.index_add([(f"t{i}-{j}", f"k{i}") for j in range(20)], 100)
            await store.add_event(f"k{i}", f"e{i}", {"ts": 1.0}, 100)
            await store.get_verdict(f"k{i}")

        results = await asyncio.gather(*(one(i) for i in range(400)),
                                       return_exceptions=True)
        assert [r for r in results if r is not None] == []
    finally:
        await store.close()
