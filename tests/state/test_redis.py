"""Redis-only behaviour: key prefix and TTLs, binary stream fields, capped audit, restarts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from service.state import QueueItem, RedisStore, StoreUnavailable
from service.state.keys import DEFAULT_TTL_S, F_RAW, Keys
from tests.conftest import RedisServer, drop_prefix, free_port


@pytest.fixture
async def raw_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def redis_store(redis_url: str, redis_prefix: str) -> AsyncIterator[RedisStore]:
    store = RedisStore(redis_url, prefix=redis_prefix, ttl_s=3600, audit_maxlen=10)
    await store.open()
    yield store
    await store.close()
    await drop_prefix(redis_url, redis_prefix)


def item(ref: str, raw: bytes = b"\x00\xff raw") -> QueueItem:
    return QueueItem(collector="journal", raw=raw, received_at=2.5, ref=ref)


async def test_every_key_is_under_the_prefix_and_records_expire(
    redis_store: RedisStore, raw_client: aioredis.Redis, redis_prefix: str
) -> None:
    await redis_store.enqueue(item("r"))
    await redis_store.set_checkpoint("journal", "1")
    await redis_store.merge_recipients("k", ["a@x"])
    await redis_store.save_verdict("k", {"v": 1})
    await redis_store.save_alert("a1", {"id": "a1", "key": "k"})
    await redis_store.save_remediation("k", "a@x", {"uid": 1})
    await redis_store.audit({"e": 1})
    await redis_store.window_add("w", "a", 60)
    await redis_store.incr("c")
    keys = {k async for k in raw_client.scan_iter(match=f"{redis_prefix}*")}
    k = Keys(redis_prefix)
    assert keys == {k.queue, k.checkpoints, k.seen("k"), k.recipients("k"), k.verdict("k"),
                    k.alerts, k.alerts_by_time, k.alerts_by_message, k.remediations("k"),
                    k.audit, k.window("w"), k.counter("c")}
    for name in (k.seen("k"), k.recipients("k"), k.verdict("k"), k.remediations("k")):
        assert name in keys
        assert 3500 < await raw_client.ttl(name) <= 3600
    assert await raw_client.ttl(k.queue) == -1  # the queue itself never expires
    assert DEFAULT_TTL_S == 30 * 24 * 3600


async def test_raw_is_a_binary_stream_field(
    redis_store: RedisStore, raw_client: aioredis.Redis
) -> None:
    raw = bytes(range(256)) * 4
    entry_id = await redis_store.enqueue(item("r", raw))
    rows: Any = await raw_client.xrange(redis_store.keys.queue)
    [(stored_id, fields)] = rows
    assert stored_id.decode() == entry_id
    assert fields[F_RAW] == raw


async def test_ack_deletes_from_the_stream(
    redis_store: RedisStore, raw_client: aioredis.Redis
) -> None:
    await redis_store.enqueue(item("r"))
    [entry] = await redis_store.consume("c", 1, 0)
    await redis_store.ack(entry.entry_id)
    assert await raw_client.xlen(redis_store.keys.queue) == 0
    assert (await raw_client.xpending(redis_store.keys.queue, "pipeline"))["pending"] == 0


async def test_audit_stream_is_capped(
    redis_store: RedisStore, raw_client: aioredis.Redis
) -> None:
    for n in range(400):
        await redis_store.audit({"n": n})
    # MAXLEN ~ trims whole stream nodes (100 entries by default), so "about" the cap.
    assert await raw_client.xlen(redis_store.keys.audit) <= 110
    assert [e["n"] for e in await redis_store.list_audit(2)] == [399, 398]


async def test_long_block_outlasts_the_socket_timeout_slices(redis_store: RedisStore) -> None:
    started = time.monotonic()
    late = asyncio.create_task(redis_store.consume("c", 1, 3000))
    await asyncio.sleep(2.3)  # past the first 2 s XREADGROUP slice
    await redis_store.enqueue(item("late"))
    [entry] = await asyncio.wait_for(late, 5)
    assert entry.item.ref == "late"
    assert time.monotonic() - started < 3.5


async def test_down_redis_raises_store_unavailable_without_the_password() -> None:
    store = RedisStore(f"redis://:hunter2@127.0.0.1:{free_port()}/0", retries=1)
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as caught:
            await store.open()
        assert time.monotonic() - started < 5
        assert "hunter2" not in str(caught.value)
        assert "127.0.0.1" in str(caught.value)
        assert await store.ping() is False
    finally:
        await store.close()


async def test_survives_a_redis_restart(redis_server: Callable[[], RedisServer]) -> None:
    server = redis_server()
    store = RedisStore(server.url, prefix="restart:")
    await store.open()
    try:
        await store.enqueue(item("before"))
        [entry] = await store.consume("c", 1, 0)
        await store.ack(entry.entry_id)

        blocked = asyncio.create_task(store.consume("c", 1, 5000))
        await asyncio.sleep(0.1)
        server.stop()
        with pytest.raises(StoreUnavailable):  # a blocked consumer fails; it does not hang
            await asyncio.wait_for(blocked, 8)
        with pytest.raises(StoreUnavailable):
            await store.enqueue(item("while down"))
        assert await store.ping() is False

        server.start()  # same port, empty: no persistence, the consumer group is gone
        assert await store.ping() is True
        entry_id = await store.enqueue(item("after"))
        [entry] = await store.consume("c", 1, 1000)
        assert (entry.entry_id, entry.item.ref, entry.deliveries) == (entry_id, "after", 1)
        await store.ack(entry.entry_id)
        assert await store.queue_depth() == 0
        assert (await store.merge_recipients("k", ["a@x"])).first_seen  # Lua reloaded
    finally:
        await store.close()
