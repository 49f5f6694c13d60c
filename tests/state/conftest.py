"""Store fixtures: every contract test runs once on SQLite and once on Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from service.state import RedisStore, SqliteStore, Store

MakeStore = Callable[[], Awaitable[Store]]


async def drop_prefix(url: str, prefix: str) -> None:
    client = aioredis.Redis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
def redis_prefix() -> str:
    return f"test:{uuid.uuid4().hex}:"


@pytest.fixture(params=["sqlite", "redis"])
async def make_store(
    request: pytest.FixtureRequest, tmp_path: Path, redis_url: str, redis_prefix: str
) -> AsyncIterator[MakeStore]:
    """Opens stores on one shared backing (same file or same prefix): several replicas."""
    backend = str(request.param)
    opened: list[Store] = []

    async def make() -> Store:
        store: Store
        if backend == "sqlite":
            store = SqliteStore(tmp_path / "state.db")
        else:
            store = RedisStore(redis_url, prefix=redis_prefix)
        await store.open()
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.close()
    if backend == "redis":
        await drop_prefix(redis_url, redis_prefix)


@pytest.fixture
async def store(make_store: MakeStore) -> Store:
    return await make_store()
