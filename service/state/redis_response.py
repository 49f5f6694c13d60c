"""The response-loop half of the Redis store: records, the URL index stream, events, rule stats.

A mixin over RedisStore's client, key names and error guard. The URL index is a Stream
trimmed by MINID (entry ids are millisecond times), so replicas follow it with XRANGE
from their last id and nothing needs a scan of the keyspace.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import redis.asyncio as aioredis

from service.state.base import JSON
from service.state.codec import dec_text, dumps, enc_text, loads
from service.state.keys import F_EXPIRES, F_KEY, F_TOKEN, Keys

# last_hit only moves forward, even with two replicas writing at once.
_MAX_LUA = """
local cur = tonumber(redis.call('HGET', KEYS[1], 'last_hit') or '0')
if tonumber(ARGV[1]) > cur then redis.call('HSET', KEYS[1], 'last_hit', ARGV[1]) end
return 1
"""


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


class RedisResponseMixin:
    """Needs `_client`, `keys` and `_guard()` from RedisStore."""

    _client: aioredis.Redis
    keys: Keys

    _guard: Callable[[], AbstractContextManager[None]]

    async def put_record(self, kind: str, rid: str, record: JSON,
                         ttl_s: float | None = None) -> None:
        now = time.time()
        with self._guard():
            async with self._client.pipeline(transaction=True) as pipe:
                if ttl_s is None:
                    pipe.set(self.keys.record(kind, rid), dumps(record))
                else:
                    pipe.set(self.keys.record(kind, rid), dumps(record),
                             px=max(1, int(ttl_s * 1000)))
                pipe.zadd(self.keys.records(kind), {enc_text(rid): now})
                await pipe.execute()

    async def get_record(self, kind: str, rid: str) -> JSON | None:
        with self._guard():
            value: Any = await self._client.get(self.keys.record(kind, rid))
        return None if value is None else loads(value)

    async def list_records(self, kind: str, limit: int) -> list[JSON]:
        if limit <= 0:
            return []
        out: list[JSON] = []
        start = 0
        with self._guard():
            while len(out) < limit:
                ids: Any = await self._client.zrevrange(self.keys.records(kind), start,
                                                        start + limit - 1)
                if not ids:
                    break
                values: Any = await self._client.mget(
                    [self.keys.record(kind, dec_text(i)) for i in ids])
                gone = [i for i, v in zip(ids, values, strict=True) if v is None]
                out += [loads(v) for v in values if v is not None]
                if gone:  # expired documents leave their id behind: prune as we go
                    await self._client.zrem(self.keys.records(kind), *gone)
                start += len(ids) - len(gone)
        return out[:limit]

    async def index_add(self, entries: list[tuple[str, str]], ttl_s: float) -> None:
        if not entries:
            return
        now = time.time()
        expires = repr(now + ttl_s).encode("ascii")
        minid = f"{int((now - ttl_s) * 1000)}-0"
        with self._guard():
            async with self._client.pipeline(transaction=False) as pipe:
                for token, key in entries:
                    fields: dict[Any, Any] = {F_TOKEN: enc_text(token), F_KEY: enc_text(key),
                                              F_EXPIRES: expires}
                    pipe.xadd(self.keys.url_index, fields, minid=minid, approximate=True)
                await pipe.execute()

    async def index_changes(self, cursor: str, limit: int
                            ) -> tuple[list[tuple[str, str, float]], str]:
        start = f"({cursor}" if cursor else "-"
        with self._guard():
            rows: Any = await self._client.xrange(self.keys.url_index, min=start, max="+",
                                                  count=max(limit, 1))
        if not rows:
            return [], cursor
        now = time.time()
        out = []
        for _, f in rows:
            expires = _num(f.get(F_EXPIRES))
            if expires > now and F_TOKEN in f and F_KEY in f:
                out.append((dec_text(f[F_TOKEN]), dec_text(f[F_KEY]), expires))
        return out, rows[-1][0].decode("ascii")

    async def add_event(self, key: str, event_id: str, event: JSON, ttl_s: float) -> bool:
        name = self.keys.events(key)
        with self._guard():
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hsetnx(name, enc_text(event_id), dumps(event))
                pipe.expire(name, max(1, int(ttl_s)))
                created, _ = await pipe.execute()
        return bool(created)

    async def list_events(self, key: str) -> list[JSON]:
        with self._guard():
            values: Any = await self._client.hgetall(self.keys.events(key))
        events = [(k, loads(v)) for k, v in values.items()]
        events.sort(key=lambda kv: (_num(kv[1].get("ts")), kv[0]))
        return [e for _, e in events]

    async def rule_stats_add(self, rule: str, counts: dict[str, int],
                             last_hit: float | None = None) -> None:
        name = self.keys.rule_stats(rule)
        with self._guard():
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.sadd(self.keys.rule_stats_names, enc_text(rule))
                for field, amount in counts.items():
                    pipe.hincrby(name, enc_text(field), int(amount))
                if last_hit is not None:
                    pipe.eval(_MAX_LUA, 1, name, repr(float(last_hit)))
                await pipe.execute()

    async def list_rule_stats(self) -> dict[str, JSON]:
        with self._guard():
            names: Any = await self._client.smembers(self.keys.rule_stats_names)
            out: dict[str, JSON] = {}
            for raw in sorted(names):
                values: Any = await self._client.hgetall(self.keys.rule_stats(dec_text(raw)))
                stats: JSON = {"last_hit": None}
                for k, v in values.items():
                    field = dec_text(k)
                    stats[field] = _num(v) if field == "last_hit" else int(_num(v))
                out[dec_text(raw)] = stats
        return out
