"""Response-loop store methods: one contract, run on SQLite and on Redis (see conftest)."""

from __future__ import annotations

import asyncio

from service.state import Store
from tests.conftest import MakeStore


async def test_records_round_trip_newest_first_and_expire(store: Store) -> None:
    await store.put_record("job", "a", {"n": 1})
    await store.put_record("job", "b", {"n": 2})
    await store.put_record("other", "a", {"n": 9})
    await store.put_record("job", "a", {"n": 3})  # rewrite moves it to the front
    assert await store.get_record("job", "a") == {"n": 3}
    assert await store.get_record("job", "zzz") is None
    assert [r["n"] for r in await store.list_records("job", 10)] == [3, 2]
    assert [r["n"] for r in await store.list_records("job", 1)] == [3]
    await store.put_record("job", "short", {"n": 4}, ttl_s=0.05)
    assert (await store.get_record("job", "short")) == {"n": 4}
    await asyncio.sleep(0.15)
    assert await store.get_record("job", "short") is None
    assert [r["n"] for r in await store.list_records("job", 10)] == [3, 2]


async def test_index_log_is_followed_by_cursor_from_another_replica(
        make_store: MakeStore) -> None:
    a, b = await make_store(), await make_store()
    await a.index_add([("u:https://x.test/a", "k1"), ("p:x.test/a", "k1")], 3600)
    changes, cursor = await b.index_changes("", 100)
    assert [(t, k) for t, k, _ in changes] == [("u:https://x.test/a", "k1"), ("p:x.test/a", "k1")]
    assert all(e > 0 for _, _, e in changes)
    again, cursor2 = await b.index_changes(cursor, 100)
    assert again == [] and cursor2 == cursor
    await a.index_add([("h:sha", "k2")], 3600)
    more, _ = await b.index_changes(cursor, 100)
    assert [(t, k) for t, k, _ in more] == [("h:sha", "k2")]
    page, c1 = await b.index_changes("", 1)
    assert len(page) == 1
    rest, _ = await b.index_changes(c1, 100)
    assert len(rest) == 2


async def test_index_entries_expire(store: Store) -> None:
    await store.index_add([("u:old", "k")], 0.05)
    await asyncio.sleep(0.15)
    await store.index_add([("u:new", "k")], 3600)
    changes, _ = await store.index_changes("", 100)
    assert [t for t, _, _ in changes] == ["u:new"]


async def test_events_recorded_once_and_ordered_by_time(make_store: MakeStore) -> None:
    a, b = await make_store(), await make_store()
    assert await a.add_event("k", "e2", {"ts": 20.0, "user": "bob"}, 3600)
    assert await a.add_event("k", "e1", {"ts": 10.0, "user": "carol"}, 3600)
    assert not await b.add_event("k", "e1", {"ts": 10.0, "user": "changed"}, 3600)
    assert [e["user"] for e in await b.list_events("k")] == ["carol", "bob"]
    assert await b.list_events("other") == []


async def test_rule_stats_add_and_last_hit_only_forward(make_store: MakeStore) -> None:
    a, b = await make_store(), await make_store()
    await a.rule_stats_add("R1", {"hits": 2}, last_hit=100.0)
    await b.rule_stats_add("R1", {"hits": 1, "false_positives": 1}, last_hit=50.0)
    await b.rule_stats_add("R2", {"remediations": 5})
    stats = await a.list_rule_stats()
    assert stats["R1"] == {"hits": 3, "false_positives": 1, "last_hit": 100.0}
    assert stats["R2"] == {"remediations": 5, "last_hit": None}
