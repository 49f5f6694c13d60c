"""Pipeline on the embedded stack (SQLite + Maildir): verdict, removal, dedup, replay."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from service.actions.remediate import Remediator
from service.collectors.maildir_fs import ensure_maildir
from service.collectors.maildir_mailbox import MaildirMailboxBackend
from service.config import Settings
from service.engine import Engine
from service.pipeline import Pipeline, alert_id_for, dedup_key
from service.state.base import QueueItem, Store
from tests.mailgen import RULE, THREE_RECIPIENTS, journal_report, phish

RECIPIENTS = ("bob@corp.example", "carol@corp.example", "dave@corp.example")


def deliver(root: Path, address: str, raw: bytes, folder: str = "") -> Path:
    box = root / address / folder if folder else root / address
    ensure_maildir(box)
    path = box / "new" / f"{time.time_ns()}.test"
    path.write_bytes(raw)
    return path


def files(box: Path) -> list[Path]:
    return [p for sub in ("cur", "new") for p in (box / sub).glob("*") if p.is_file()]


class Stack:
    def __init__(self, tmp: Path, store: Store, **remediation: object) -> None:
        rules = tmp / "rules"
        rules.mkdir(exist_ok=True)
        (rules / "test.yar").write_text(RULE)
        self.mailboxes = tmp / "mailboxes"
        self.mailboxes.mkdir(exist_ok=True)
        self.settings = Settings.model_validate({
            "data_root": str(tmp), "rules": str(rules),
            "organisation_domains": ["corp.example"],
            "remediation": {"retries": 1, "retry_backoff_s": 0.01, **remediation},
        })
        self.store = store
        engine = Engine(self.settings, store=store)
        engine.load_rules()
        backend = MaildirMailboxBackend(self.mailboxes, ".Quarantine", ("corp.example",))
        self.remediator = Remediator(backend, store, self.settings.remediation,
                                     self.settings.organisation_domains)
        self.pipeline = Pipeline(self.settings, store, engine, self.remediator, "test-1",
                                 reclaim_idle_ms=200)

    async def run_once(self) -> None:
        for entry in await self.store.consume("test-1", 50, 50):
            await self.pipeline.process(entry)


async def test_journal_report_removed_from_all_three_and_restored(
        tmp_path: Path, store: Store) -> None:
    stack = Stack(tmp_path, store)
    original = phish()
    for r in RECIPIENTS:
        deliver(stack.mailboxes, r, original)
    deliver(stack.mailboxes, "bob@corp.example", phish("<other@ok.test>", body="lunch?"))
    await store.enqueue(QueueItem("journal", journal_report(original, THREE_RECIPIENTS),
                                  time.time(), "1"))
    await stack.run_once()

    for r in RECIPIENTS:
        assert len(files(stack.mailboxes / r / ".Quarantine")) == 1, r
    assert len(files(stack.mailboxes / "bob@corp.example")) == 1  # the legitimate one stays
    assert await store.queue_depth() == 0

    key = (await store.list_alerts(10, 0))[0]["key"]
    alert = await store.get_alert(alert_id_for(key))
    assert alert is not None
    assert {r["address"]: r["source"] for r in alert["recipients"]} == {
        "bob@corp.example": "to", "carol@corp.example": "bcc", "dave@corp.example": "expanded"}
    assert {r: rec["result"] for r, rec in alert["remediation"].items()} == dict.fromkeys(
        RECIPIENTS, "removed")

    results = await stack.remediator.restore(key)
    assert results == dict.fromkeys(RECIPIENTS, "restored")
    for r in RECIPIENTS:
        assert files(stack.mailboxes / r / ".Quarantine") == []
    assert len(files(stack.mailboxes / "bob@corp.example")) == 2


async def test_second_report_merges_and_removes_only_new_recipient(
        tmp_path: Path, store: Store) -> None:
    stack = Stack(tmp_path, store)
    original = phish()
    for r in (*RECIPIENTS, "erin@corp.example"):
        deliver(stack.mailboxes, r, original)
    await store.enqueue(QueueItem("journal", journal_report(original, THREE_RECIPIENTS),
                                  time.time(), "1"))
    await stack.run_once()
    audit_before = len(await store.list_audit(1000))
    await store.enqueue(QueueItem("journal", journal_report(
        original, ["To: bob@corp.example", "Cc: erin@corp.example"]), time.time(), "2"))
    await stack.run_once()

    assert len(files(stack.mailboxes / "erin@corp.example" / ".Quarantine")) == 1
    new_events = (await store.list_audit(1000))[: len(await store.list_audit(1000)) - audit_before]
    assert [e["recipient"] for e in new_events if e.get("event") == "remediate"] == [
        "erin@corp.example"]
    [alert] = await store.list_alerts(10, 0)
    assert len(alert["recipients"]) == 4


async def test_replay_after_crash_keeps_one_verdict_and_never_moves_twice(
        tmp_path: Path, store: Store) -> None:
    stack = Stack(tmp_path, store)
    original = phish()
    for r in RECIPIENTS:
        deliver(stack.mailboxes, r, original)
    report = journal_report(original, THREE_RECIPIENTS)
    await store.enqueue(QueueItem("journal", report, time.time(), "1"))
    # First consumer leases the entry and "dies" before acking.
    [entry] = await store.consume("dead", 1, 50)
    await stack.pipeline.process(entry)  # did all the work...
    # ...but imagine the ack was lost: the same bytes arrive again (collector replay).
    await store.enqueue(QueueItem("journal", report, time.time(), "1"))
    await stack.run_once()
    assert len(await store.list_alerts(10, 0)) == 1
    assert await store.get_verdict(dedup_key_of(report)) is not None
    removes = [e for e in await store.list_audit(1000) if e.get("event") == "remediate"]
    assert len(removes) == 3
    for r in RECIPIENTS:
        assert len(files(stack.mailboxes / r / ".Quarantine")) == 1


def dedup_key_of(raw: bytes) -> str:
    from service import mime

    return dedup_key(mime.parse(raw))


async def test_shadow_mode_moves_nothing_but_records(tmp_path: Path, store: Store) -> None:
    stack = Stack(tmp_path, store, mode="shadow")
    original = phish()
    for r in RECIPIENTS:
        deliver(stack.mailboxes, r, original)
    await store.enqueue(QueueItem("journal", journal_report(original, THREE_RECIPIENTS),
                                  time.time(), "1"))
    await stack.run_once()
    for r in RECIPIENTS:
        assert len(files(stack.mailboxes / r)) == 1
    [alert] = await store.list_alerts(10, 0)
    assert {rec["result"] for rec in alert["remediation"].values()} == {"shadow"}


async def test_blast_radius_drops_rule_to_shadow(tmp_path: Path, store: Store) -> None:
    stack = Stack(tmp_path, store, blast_radius={"max_removals": 2, "window_s": 60})
    original = phish()
    for r in RECIPIENTS:
        deliver(stack.mailboxes, r, original)
    await store.enqueue(QueueItem("journal", journal_report(original, THREE_RECIPIENTS),
                                  time.time(), "1"))
    await stack.run_once()
    [alert] = await store.list_alerts(10, 0)
    assert {rec["result"] for rec in alert["remediation"].values()} == {"shadow"}
    assert any(e.get("event") == "blast_radius_tripped" for e in await store.list_audit(100))


async def test_clean_mail_is_acked_without_alert(tmp_path: Path, store: Store) -> None:
    stack = Stack(tmp_path, store)
    await store.enqueue(QueueItem("journal", phish("<ok@ok.test>", body="minutes attached"),
                                  time.time(), "1"))
    await stack.run_once()
    assert await store.list_alerts(10, 0) == []
    assert await store.queue_depth() == 0


async def test_pipeline_run_loop_stops_on_event(tmp_path: Path, store: Store) -> None:
    stack = Stack(tmp_path, store)
    stop = asyncio.Event()
    task = asyncio.create_task(stack.pipeline.run(stop))
    await store.enqueue(QueueItem("journal", phish(), time.time(), "1"))
    for _ in range(100):
        if await store.queue_depth() == 0:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert len(await store.list_alerts(10, 0)) == 1
