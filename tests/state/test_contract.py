"""The Store contract: both backends must behave the same on every point here."""

from __future__ import annotations

import asyncio
import time

import pytest

from service.state import QueueEntry, QueueItem, Store
from tests.conftest import MakeStore

HOSTILE_RAW = (b"From: a@x\r\n\r\n\x00\x01\xff\xfe\x80 not utf-8 \xc3\x28 \x00end"
               + bytes(range(256)))


def item(ref: str, raw: bytes = b"Subject: hi\r\n\r\nbody",
         collector: str = "journal") -> QueueItem:
    return QueueItem(collector=collector, raw=raw, received_at=1_700_000_000.25, ref=ref)


async def test_is_a_store(store: Store) -> None:
    assert isinstance(store, Store)
    assert await store.ping() is True


# queue


async def test_bytes_round_trip_exactly(store: Store) -> None:
    sent = item("uid:1\udcff", raw=HOSTILE_RAW, collector="imap-journal")
    entry_id = await store.enqueue(sent)
    [entry] = await store.consume("c1", 10, 1000)
    assert entry.entry_id == entry_id
    assert entry.item == sent
    assert entry.item.raw == HOSTILE_RAW
    assert entry.deliveries == 1
    await store.ack(entry.entry_id)
    assert await store.queue_depth() == 0


async def test_empty_raw_round_trips(store: Store) -> None:
    await store.enqueue(item("empty", raw=b""))
    [entry] = await store.consume("c1", 1, 500)
    assert entry.item.raw == b""


async def test_consume_is_fifo_and_honours_count(store: Store) -> None:
    for n in range(5):
        await store.enqueue(item(f"r{n}"))
    first = await store.consume("c1", 3, 0)
    second = await store.consume("c1", 10, 0)
    assert [e.item.ref for e in first + second] == [f"r{n}" for n in range(5)]
    assert await store.consume("c1", 0, 0) == []


async def test_consume_waits_up_to_block_ms(store: Store) -> None:
    started = time.monotonic()
    assert await store.consume("c1", 1, 150) == []
    waited = time.monotonic() - started
    assert 0.1 <= waited < 2.0
    started = time.monotonic()
    assert await store.consume("c1", 1, 0) == []
    assert time.monotonic() - started < 0.5


async def test_blocked_consumer_wakes_on_enqueue(make_store: MakeStore) -> None:
    consumer_side, producer_side = await make_store(), await make_store()
    started = time.monotonic()
    waiting = asyncio.create_task(consumer_side.consume("c1", 1, 5000))
    await asyncio.sleep(0.1)
    await producer_side.enqueue(item("late"))
    entries = await asyncio.wait_for(waiting, 3)
    assert [e.item.ref for e in entries] == ["late"]
    assert time.monotonic() - started < 2.0


async def test_unacked_entry_is_reclaimed_by_another_consumer(make_store: MakeStore) -> None:
    dead, alive = await make_store(), await make_store()
    await dead.enqueue(item("orphan"))
    [leased] = await dead.consume("dead", 1, 500)
    assert await alive.reclaim("alive", 60_000, 10) == []  # not idle long enough
    await asyncio.sleep(0.15)
    [taken] = await alive.reclaim("alive", 100, 10)
    assert taken.entry_id == leased.entry_id
    assert taken.item == leased.item
    assert taken.deliveries == 2
    assert await alive.consume("alive", 10, 0) == []  # reclaimed, not re-queued
    await asyncio.sleep(0.15)
    [again] = await dead.reclaim("third", 100, 10)
    assert again.deliveries == 3
    await alive.ack(again.entry_id)
    await asyncio.sleep(0.05)
    assert await dead.reclaim("third", 0, 10) == []


async def test_acked_entries_never_come_back(make_store: MakeStore) -> None:
    store = await make_store()
    for n in range(3):
        await store.enqueue(item(f"r{n}"))
    for entry in await store.consume("c1", 10, 500):
        await store.ack(entry.entry_id)
    await store.ack(entry.entry_id)  # a second ack is harmless
    await asyncio.sleep(0.05)
    other = await make_store()
    assert await other.reclaim("c2", 0, 10) == []
    assert await other.consume("c2", 10, 0) == []
    assert await other.queue_depth() == 0


async def test_ack_rejects_a_malformed_id(store: Store) -> None:
    with pytest.raises(ValueError):
        await store.ack("not an id; DROP TABLE queue")


async def test_queue_depth_counts_everything_not_acked(store: Store) -> None:
    assert await store.queue_depth() == 0
    for n in range(3):
        await store.enqueue(item(f"r{n}"))
    assert await store.queue_depth() == 3
    leased = await store.consume("c1", 2, 0)
    assert await store.queue_depth() == 3  # leased is not done
    await store.ack(leased[0].entry_id)
    assert await store.queue_depth() == 2


async def test_parallel_consumers_never_share_an_entry(make_store: MakeStore) -> None:
    producer = await make_store()
    refs = [f"m{n}" for n in range(60)]
    for ref in refs:
        await producer.enqueue(item(ref))

    async def drain(name: str) -> list[QueueEntry]:
        store = await make_store()
        got: list[QueueEntry] = []
        while batch := await store.consume(name, 4, 100):
            got += batch
            for entry in batch:
                await store.ack(entry.entry_id)
            await asyncio.sleep(0)
        return got

    a, b = await asyncio.gather(drain("a"), drain("b"))
    ids_a, ids_b = {e.entry_id for e in a}, {e.entry_id for e in b}
    assert not ids_a & ids_b
    assert sorted(e.item.ref for e in a + b) == sorted(refs)
    assert len(a) + len(b) == len(refs)


# checkpoints


async def test_checkpoints(store: Store) -> None:
    assert await store.get_checkpoint("journal") is None
    await store.set_checkpoint("journal", "uidvalidity=7;uid=41")
    await store.set_checkpoint("journal", "uidvalidity=7;uid=42")
    await store.set_checkpoint("other", "x")
    assert await store.get_checkpoint("journal") == "uidvalidity=7;uid=42"
    assert await store.get_checkpoint("other") == "x"


# dedup


async def test_merge_first_report_then_overlapping_second(store: Store) -> None:
    first = await store.merge_recipients("k1", ["Alice@Corp.Example", "bob@corp.example",
                                                "ALICE@corp.example"])
    assert first.first_seen is True
    assert first.new_recipients == ("alice@corp.example", "bob@corp.example")
    assert first.all_recipients == ("alice@corp.example", "bob@corp.example")
    second = await store.merge_recipients("k1", ["BOB@corp.example", "carol@corp.example"])
    assert second.first_seen is False
    assert second.new_recipients == ("carol@corp.example",)
    assert second.all_recipients == ("alice@corp.example", "bob@corp.example",
                                     "carol@corp.example")
    third = await store.merge_recipients("k1", [])
    assert (third.first_seen, third.new_recipients) == (False, ())
    other = await store.merge_recipients("k2", ["bob@corp.example"])
    assert other.first_seen is True and other.new_recipients == ("bob@corp.example",)


async def test_merge_with_no_recipients_still_marks_seen(store: Store) -> None:
    assert (await store.merge_recipients("k", [])).first_seen is True
    assert (await store.merge_recipients("k", [])).first_seen is False


async def test_concurrent_merges_never_both_claim_a_recipient(make_store: MakeStore) -> None:
    one, two = await make_store(), await make_store()
    people = [f"user{n}@corp.example" for n in range(30)]
    for round_ in range(5):
        key = f"race{round_}"
        r1, r2 = await asyncio.gather(one.merge_recipients(key, people[:20]),
                                      two.merge_recipients(key, people[10:]))
        assert not set(r1.new_recipients) & set(r2.new_recipients)
        assert set(r1.new_recipients) | set(r2.new_recipients) == set(people)
        assert [r1.first_seen, r2.first_seen].count(True) == 1


async def test_hostile_text_in_keys_and_values(store: Store) -> None:
    key = "k\x00\udcff:*?[]"
    merged = await store.merge_recipients(key, ["b\udcffd@x"])
    assert merged.new_recipients == ("b\udcffd@x",)
    await store.save_verdict(key, {"note": "\x00\udcff"})
    assert await store.get_verdict(key) == {"note": "\x00\udcff"}
    assert await store.get_verdict("k") is None


# verdicts


async def test_verdict_upsert_keeps_one_per_key(store: Store) -> None:
    assert await store.get_verdict("k") is None
    await store.save_verdict("k", {"verdict": "suspicious", "n": 1})
    await store.save_verdict("k", {"verdict": "malicious", "n": 2})
    await store.save_verdict("other", {"verdict": "clean"})
    assert await store.get_verdict("k") == {"verdict": "malicious", "n": 2}
    assert await store.get_verdict("other") == {"verdict": "clean"}


# alerts


async def test_alerts_list_get_find(store: Store) -> None:
    for n, created in enumerate([100.0, 300.0, 200.0]):
        await store.save_alert(f"a{n}", {"id": f"a{n}", "key": f"k{n}", "created_at": created})
    listed = await store.list_alerts(10, 0)
    assert [a["id"] for a in listed] == ["a1", "a2", "a0"]
    assert [a["id"] for a in await store.list_alerts(1, 1)] == ["a2"]
    assert await store.list_alerts(10, 5) == []
    assert await store.list_alerts(0, 0) == []
    assert await store.get_alert("a2") == {"id": "a2", "key": "k2", "created_at": 200.0}
    assert await store.get_alert("nope") is None
    found = await store.find_alert_by_message("k0")
    assert found is not None and found["id"] == "a0"
    assert await store.find_alert_by_message("unknown") is None


async def test_alert_update_keeps_its_place(store: Store) -> None:
    await store.save_alert("old", {"id": "old"})
    await asyncio.sleep(0.01)
    await store.save_alert("new", {"id": "new"})
    await store.save_alert("old", {"id": "old", "disposition": "FALSE_POSITIVE"})
    listed = await store.list_alerts(10, 0)
    assert [a["id"] for a in listed] == ["new", "old"]
    assert listed[1]["disposition"] == "FALSE_POSITIVE"


# remediation records


async def test_remediation_records(store: Store) -> None:
    assert await store.get_remediations("k") == {}
    await store.save_remediation("k", "alice@corp.example", {"folder": "Quarantine", "uid": 1})
    await store.save_remediation("k", "bob@corp.example", {"folder": "Quarantine", "uid": 9})
    await store.save_remediation("k", "alice@corp.example", {"folder": "INBOX", "restored": True})
    await store.save_remediation("k2", "carol@corp.example", {"uid": 3})
    assert await store.get_remediations("k") == {
        "alice@corp.example": {"folder": "INBOX", "restored": True},
        "bob@corp.example": {"folder": "Quarantine", "uid": 9},
    }


# audit


async def test_audit_lists_newest_first(store: Store) -> None:
    for n in range(5):
        await store.audit({"event": "removed", "n": n})
    assert [e["n"] for e in await store.list_audit(3)] == [4, 3, 2]
    assert [e["n"] for e in await store.list_audit(100)] == [4, 3, 2, 1, 0]
    assert await store.list_audit(0) == []


# counters


async def test_window_counts_distinct_members_and_expires_old_ones(store: Store) -> None:
    assert await store.window_add("rule:x", "alice", 0.3) == 1
    assert await store.window_add("rule:x", "bob", 0.3) == 2
    assert await store.window_add("rule:x", "alice", 0.3) == 2
    assert await store.window_add("rule:y", "alice", 0.3) == 1
    await asyncio.sleep(0.45)
    assert await store.window_add("rule:x", "carol", 0.3) == 1
    with pytest.raises(ValueError):
        await store.window_add("rule:x", "carol", 0)


async def test_incr(store: Store) -> None:
    assert await store.incr("removed") == 1
    assert await store.incr("removed", 5) == 6
    assert await store.incr("other") == 1
    assert await store.incr("removed", -2) == 4
