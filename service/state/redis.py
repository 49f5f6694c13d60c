"""The shared Store: Redis, so several replicas share one queue and one memory.

The queue is a Redis Stream with one consumer group; XAUTOCLAIM hands what a dead
replica leased to a live one. Key names live in keys.py. redis-py retries a command
on a dropped connection with backoff; when Redis stays down the call raises
StoreUnavailable, and the next call after Redis is back simply works.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

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
from service.state.keys import (
    DEFAULT_AUDIT_MAXLEN,
    DEFAULT_PREFIX,
    DEFAULT_TTL_S,
    F_COLLECTOR,
    F_EVENT,
    F_RAW,
    F_RECEIVED_AT,
    F_REF,
    QUEUE_GROUP,
    Keys,
)
from service.state.redis_response import RedisResponseMixin

T = TypeVar("T")

_ENTRY_ID = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")
# XREADGROUP BLOCK is split into slices shorter than the socket timeout, or redis-py
# would take a long block for a dead connection.
_MAX_BLOCK_MS = 2_000
_SOCKET_TIMEOUT_S = 10.0
# XAUTOCLAIM scans at most 10 * COUNT pending entries per call; bound the rounds.
_RECLAIM_ROUNDS = 8

# KEYS[1] seen marker, KEYS[2] recipients (sorted set scored by arrival order);
# ARGV[1] TTL seconds, ARGV[2..] lower-cased addresses. Atomic across replicas, so two
# reports merged at once never both call the same recipient new.
_MERGE_LUA = """
local first = redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1])
if not first then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local n = redis.call('ZCARD', KEYS[2])
local new = {}
for i = 2, #ARGV do
  if redis.call('ZADD', KEYS[2], 'NX', n, ARGV[i]) == 1 then
    n = n + 1
    new[#new + 1] = ARGV[i]
  end
end
if n > 0 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
return {first and 1 or 0, new, redis.call('ZRANGE', KEYS[2], 0, -1)}
"""


def _float(value: bytes | None) -> float:
    try:
        return float(value) if value is not None else 0.0
    except ValueError:
        return 0.0


def _entry(entry_id: bytes, fields: dict[bytes, bytes] | None, deliveries: int) -> QueueEntry:
    # A hand-written or truncated entry still becomes an item: the pipeline then fails
    # to parse it and acks it, instead of it being reclaimed forever.
    f = fields or {}
    item = QueueItem(collector=dec_text(f.get(F_COLLECTOR, b"")), raw=f.get(F_RAW, b""),
                     received_at=_float(f.get(F_RECEIVED_AT)), ref=dec_text(f.get(F_REF, b"")))
    return QueueEntry(entry_id=entry_id.decode("ascii"), item=item, deliveries=deliveries)


class RedisStore(RedisResponseMixin):
    """Store on Redis; every key is under `prefix`, dedup-like records expire after `ttl_s`."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        ttl_s: int = DEFAULT_TTL_S,
        audit_maxlen: int = DEFAULT_AUDIT_MAXLEN,
        retries: int = 3,
    ) -> None:
        self.keys = Keys(prefix)
        self.ttl_s = int(ttl_s)
        self.audit_maxlen = audit_maxlen
        self._client: aioredis.Redis = aioredis.Redis.from_url(
            url,
            decode_responses=False,
            protocol=2,
            socket_timeout=_SOCKET_TIMEOUT_S,
            socket_connect_timeout=2.0,
            retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), retries),
            health_check_interval=30,
        )
        kwargs = self._client.connection_pool.connection_kwargs
        if kwargs.get("decode_responses"):
            raise ValueError("redis state URL must not set decode_responses: raw mail is bytes")
        # For messages: where, never the URL (it may hold a password).
        where = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"
        self.where = f"{where}/{kwargs.get('db', 0)}"
        self._merge = self._client.register_script(_MERGE_LUA)

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise StoreUnavailable(f"redis at {self.where} unavailable: {exc}") from exc

    # lifecycle

    async def open(self) -> None:
        with self._guard():
            await self._ensure_group()

    async def close(self) -> None:
        await self._client.aclose()

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except (RedisConnectionError, RedisTimeoutError):
            return False

    # queue

    async def _ensure_group(self) -> None:
        try:
            # From id 0: a group lost with a Redis restart must still deliver what is queued.
            await self._client.xgroup_create(self.keys.queue, QUEUE_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _grouped(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run a consumer-group command; recreate the group once if Redis lost it."""
        with self._guard():
            try:
                return await call()
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
            await self._ensure_group()
            return await call()

    async def enqueue(self, item: QueueItem) -> str:
        fields: dict[Any, Any] = {
            F_COLLECTOR: enc_text(item.collector),
            F_RAW: item.raw,
            F_RECEIVED_AT: repr(float(item.received_at)).encode("ascii"),
            F_REF: enc_text(item.ref),
        }
        with self._guard():
            entry_id: Any = await self._client.xadd(self.keys.queue, fields)
        return str(entry_id.decode("ascii"))

    async def consume(self, consumer: str, count: int, block_ms: int) -> list[QueueEntry]:
        if count <= 0:
            return []
        name: Any = enc_text(consumer)  # redis-py accepts bytes; its stubs say str
        deadline = time.monotonic() + max(block_ms, 0) / 1000
        while True:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            block = min(remaining_ms, _MAX_BLOCK_MS)
            # BLOCK 0 means forever to Redis, so "no wait" must omit BLOCK entirely.
            resp: Any = await self._grouped(partial(
                self._client.xreadgroup, QUEUE_GROUP, name, {self.keys.queue: ">"},
                count=count, block=block if block > 0 else None))
            entries = [_entry(eid, fields, 1) for _, stream in resp or [] for eid, fields in stream]
            if entries or remaining_ms <= _MAX_BLOCK_MS:
                return entries

    async def ack(self, entry_id: str) -> None:
        if not _ENTRY_ID.fullmatch(entry_id):
            raise ValueError("malformed queue entry id")
        with self._guard():
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.xack(self.keys.queue, QUEUE_GROUP, entry_id)
                pipe.xdel(self.keys.queue, entry_id)
                await pipe.execute()

    async def reclaim(self, consumer: str, min_idle_ms: int, count: int) -> list[QueueEntry]:
        if count <= 0:
            return []
        name: Any = enc_text(consumer)
        claimed: list[tuple[bytes, dict[bytes, bytes]]] = []
        start: bytes | str = "0-0"
        for _ in range(_RECLAIM_ROUNDS):
            want = count - len(claimed)
            resp: Any = await self._grouped(partial(
                self._client.xautoclaim, self.keys.queue, QUEUE_GROUP, name,
                max(min_idle_ms, 0), start_id=start, count=want))
            # Entries deleted while pending come back without fields; XAUTOCLAIM
            # already dropped them from the pending list.
            claimed += [(eid, fields) for eid, fields in resp[1] if fields]
            start = resp[0]
            if start in (b"0-0", "0-0") or len(claimed) >= count:
                break
        if not claimed:
            return []
        with self._guard():
            pending: Any = await self._client.xpending_range(
                self.keys.queue, QUEUE_GROUP, min=claimed[0][0], max=claimed[-1][0],
                count=len(claimed) * 2 + 10, consumername=name)
        times = {p["message_id"]: int(p["times_delivered"]) for p in pending}
        # Not listed: someone reclaimed it again in between; it was delivered at least twice.
        return [_entry(eid, fields, times.get(eid, 2)) for eid, fields in claimed]

    async def queue_depth(self) -> int:
        # ack deletes the entry, so the stream length is exactly what is not yet acked.
        with self._guard():
            return int(await self._client.xlen(self.keys.queue))

    # checkpoints

    async def get_checkpoint(self, collector: str) -> str | None:
        with self._guard():
            value: Any = await self._client.hget(self.keys.checkpoints,
                                                          enc_text(collector))
        return None if value is None else dec_text(value)

    async def set_checkpoint(self, collector: str, value: str) -> None:
        with self._guard():
            await self._client.hset(self.keys.checkpoints, enc_text(collector),
                                    enc_text(value))

    # dedup

    async def merge_recipients(self, key: str, recipients: list[str]) -> MergeResult:
        addresses = [enc_text(a) for a in normalize_addresses(recipients)]
        with self._guard():
            first, new, everyone = await self._merge(
                keys=[self.keys.seen(key), self.keys.recipients(key)],
                args=[self.ttl_s, *addresses])
        return MergeResult(first_seen=bool(first),
                           new_recipients=tuple(dec_text(a) for a in new),
                           all_recipients=tuple(dec_text(a) for a in everyone))

    # verdicts

    async def save_verdict(self, key: str, verdict: JSON) -> None:
        with self._guard():
            await self._client.set(self.keys.verdict(key), dumps(verdict), ex=self.ttl_s)

    async def get_verdict(self, key: str) -> JSON | None:
        with self._guard():
            value: Any = await self._client.get(self.keys.verdict(key))
        return None if value is None else loads(value)

    # alerts

    async def save_alert(self, alert_id: str, alert: JSON) -> None:
        aid, body, created = enc_text(alert_id), dumps(alert), alert_time(alert)
        key = alert_message_key(alert)
        with self._guard():
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hset(self.keys.alerts, aid, body)
                if created is None:
                    # An update without a time of its own keeps the alert's place in the list.
                    pipe.zadd(self.keys.alerts_by_time, {aid: time.time()}, nx=True)
                else:
                    pipe.zadd(self.keys.alerts_by_time, {aid: created})
                if key is not None:
                    pipe.hset(self.keys.alerts_by_message, enc_text(key), aid)
                await pipe.execute()

    async def get_alert(self, alert_id: str) -> JSON | None:
        with self._guard():
            value: Any = await self._client.hget(self.keys.alerts,
                                                          enc_text(alert_id))
        return None if value is None else loads(value)

    async def list_alerts(self, limit: int, offset: int) -> list[JSON]:
        if limit <= 0:
            return []
        start = max(offset, 0)
        with self._guard():
            ids: Any = await self._client.zrevrange(self.keys.alerts_by_time, start,
                                                            start + limit - 1)
            if not ids:
                return []
            values: Any = await self._client.hmget(self.keys.alerts,
                                                                  ids)
        return [loads(v) for v in values if v is not None]

    async def find_alert_by_message(self, key: str) -> JSON | None:
        with self._guard():
            aid: Any = await self._client.hget(self.keys.alerts_by_message,
                                                        enc_text(key))
        return None if aid is None else await self.get_alert(dec_text(aid))

    # remediation records

    async def save_remediation(self, key: str, recipient: str, record: JSON) -> None:
        name = self.keys.remediations(key)
        with self._guard():
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hset(name, enc_text(recipient.strip().lower()), dumps(record))
                pipe.expire(name, self.ttl_s)
                await pipe.execute()

    async def get_remediations(self, key: str) -> dict[str, JSON]:
        with self._guard():
            values: Any = await self._client.hgetall(
                self.keys.remediations(key))
        return {dec_text(k): loads(v) for k, v in values.items()}

    # audit

    async def audit(self, event: JSON) -> None:
        with self._guard():
            await self._client.xadd(self.keys.audit, {F_EVENT: dumps(event)},
                                    maxlen=self.audit_maxlen, approximate=True)

    async def list_audit(self, limit: int) -> list[JSON]:
        """Newest first, like list_alerts."""
        if limit <= 0:
            return []
        with self._guard():
            rows: Any = await self._client.xrevrange(self.keys.audit, count=limit)
        return [loads(fields[F_EVENT]) for _, fields in rows if F_EVENT in fields]

    # counters

    async def window_add(self, name: str, member: str, window_s: float) -> int:
        if not 0 < window_s < float("inf"):
            raise ValueError("window_s must be a positive number of seconds")
        key, now = self.keys.window(name), time.time()
        with self._guard():
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.zadd(key, {enc_text(member): now})
                pipe.zremrangebyscore(key, "-inf", now - window_s)
                pipe.zcard(key)
                pipe.expire(key, max(1, int(window_s) + 1))
                results = await pipe.execute()
        return int(results[2])

    async def incr(self, name: str, amount: int = 1) -> int:
        with self._guard():
            return int(await self._client.incrby(self.keys.counter(name), amount))

    # indicators

    async def put_indicator(self, key: str, record: JSON) -> None:
        with self._guard():
            await self._client.hset(self.keys.indicators, enc_text(key), dumps(record))

    async def list_indicators(self) -> list[JSON]:
        with self._guard():
            values: Any = await self._client.hgetall(self.keys.indicators)
        return [loads(values[k]) for k in sorted(values)]

    async def delete_indicator(self, key: str) -> bool:
        with self._guard():
            return bool(await self._client.hdel(self.keys.indicators, enc_text(key)))
