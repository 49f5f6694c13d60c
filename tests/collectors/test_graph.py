"""Microsoft Graph against the local OData endpoint: removal, restore, throttling, tokens, delta."""

from __future__ import annotations

import asyncio
import math
import smtplib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from service.actions.remediate import Remediator, Request
from service.collectors.base import MessageIdentity, RemovalResult
from service.collectors.graph_client import GraphSettings
from service.collectors.graph_journal import GraphDeltaCollector
from service.collectors.graph_mailbox import GraphMailboxBackend
from service.collectors.smtp_journal import SmtpJournalCollector
from service.config import Remediation
from service.model import Severity
from service.state.base import QueueItem, Store
from tests.collectors.conftest import remediation_stack, trawler_check
from tests.conftest import free_port
from tests.mailgen import THREE_RECIPIENTS, journal_report, phish
from tests.servers.graph import GraphServer

RECIPIENTS = ("bob@corp.example", "carol@corp.example", "dave@corp.example")
SENDER = '"IT Helpdesk" <helpdesk@evil.test>'
SUBJECT = "Password expiry notice"


def ident(mid: str = "<phish-1@evil.test>") -> MessageIdentity:
    return MessageIdentity(mid, SENDER, SUBJECT, None)


@pytest.fixture
async def graph() -> AsyncIterator[GraphServer]:
    server = GraphServer()
    await server.start()
    yield server
    await server.stop()


def gsettings(server: GraphServer, secret: str = "secret-1", concurrency: int = 4) -> GraphSettings:
    return GraphSettings("tenant-1", "app-1", secret, authority_url=server.base,
                         graph_url=server.graph_url, per_mailbox_concurrency=concurrency,
                         timeout_s=10)


async def test_hidden_folder_every_copy_confirmed_and_restored(graph: GraphServer) -> None:
    box = "bob@corp.example"
    graph.deliver(box, phish())
    graph.deliver(box, phish(), folder="archive")
    graph.deliver(box, phish(subject="Lunch on Friday"), folder="archive")  # forged twin
    backend = GraphMailboxBackend(gsettings(graph))
    try:
        shadow = await backend.quarantine(box, ident(), dry_run=True)
        assert shadow.result is RemovalResult.SHADOW and len(shadow.moved) == 2
        assert "Quarantine" not in graph.where(box)

        out = await backend.quarantine(box, ident())
        assert out.result is RemovalResult.REMOVED, out.reason
        assert graph.where(box) == {"Quarantine": ["<phish-1@evil.test>"] * 2,
                                    "Archive": ["<phish-1@evil.test>"]}
        [folder] = [f for f in graph.mailbox(box).folders.values()
                    if f["displayName"] == "Quarantine"]
        assert folder["isHidden"] is True
        assert graph.stats["batches"] == 1  # two copies, one $batch
        # Immutable ids: the recorded id is the one the message had before the move.
        assert {m.new_ref for m in out.moved} <= set(graph.mailbox(box).messages)

        again = await backend.quarantine(box, ident())
        assert again.result is RemovalResult.REMOVED and graph.stats["batches"] == 1

        for m in out.moved:
            assert (await backend.restore(box, m)).value == "restored"
        assert graph.where(box) == {"Inbox": ["<phish-1@evil.test>"],
                                    "Archive": ["<phish-1@evil.test>"] * 2}
    finally:
        await backend.close()


async def test_recoverable_items_mode_and_unknown_mailbox(graph: GraphServer) -> None:
    graph.deliver("bob@corp.example", phish("<it's-quoted@evil.test>"))
    backend = GraphMailboxBackend(gsettings(graph), mode="recoverableitemsdeletions")
    try:
        out = await backend.quarantine("bob@corp.example", ident("<it's-quoted@evil.test>"))
        assert out.result is RemovalResult.REMOVED, out.reason
        assert graph.where("bob@corp.example") == {
            "Recoverableitemsdeletions": ["<it's-quoted@evil.test>"]}
        gone = await backend.quarantine("nobody@corp.example", ident())
        assert gone.result is RemovalResult.NOT_FOUND
        bad = await backend.quarantine("x'/../y@corp.example", ident())
        assert bad.result is RemovalResult.SKIPPED
    finally:
        await backend.close()


def _remediator(backend: GraphMailboxBackend, store: Store) -> Remediator:
    return Remediator(backend, store, Remediation(retries=0), ("corp.example",))


async def _remediate_all(remediator: Remediator, boxes: list[str],
                         per_box: int) -> list[str]:
    async def one(n: int) -> list[str]:
        records = await remediator.remediate(Request(
            key=f"k{n}", alert_id=None, ident=ident(f"<p{n}@evil.test>"),
            recipients=tuple(boxes), rules=(), severity=Severity.HIGH,
            received_at=time.time()))
        return [r["result"] for r in records.values()]

    results = await asyncio.gather(*(one(n) for n in range(per_box)))
    return [r for rs in results for r in rs]


def _fill(graph: GraphServer, boxes: int, per_box: int) -> list[str]:
    names = [f"user{b}@corp.example" for b in range(boxes)]
    for name in names:
        for n in range(per_box):
            graph.deliver(name, phish(f"<p{n}@evil.test>"))
    return names


async def test_200_remediations_across_10_mailboxes_within_the_throttle_bound(
        store: Store) -> None:
    # The protocol layer against the server's limit (the bench adds the Remediator and
    # its store writes): every copy removed, no 429, within 1.5x of the limit's minimum.
    service_s, per_box = 0.2, 20
    graph = GraphServer(service_time_s=service_s)
    await graph.start()
    backend = GraphMailboxBackend(gsettings(graph))
    try:
        boxes = _fill(graph, 10, per_box)
        started = time.perf_counter()
        outcomes = await asyncio.gather(*(backend.quarantine(b, ident(f"<p{n}@evil.test>"))
                                          for n in range(per_box) for b in boxes))
        elapsed = time.perf_counter() - started
    finally:
        await backend.close()
        await graph.stop()
    assert [o.result for o in outcomes] == [RemovalResult.REMOVED] * 200
    # Per mailbox: a find and a move per message, plus one folder lookup and one create,
    # through 4 slots of service_s each; mailboxes run side by side.
    bound = math.ceil((2 * per_box + 2) / 4) * service_s
    assert elapsed <= 1.5 * bound, (elapsed, bound)
    assert max(graph.peak.values()) == 4 and graph.stats["throttled"] == 0
    assert graph.stats["requests"] == 10 * (2 * per_box + 2)


async def test_a_greedy_client_is_throttled_and_still_fails_nothing(store: Store) -> None:
    graph = GraphServer(service_time_s=0.02, retry_after_s=0)
    await graph.start()
    backend = GraphMailboxBackend(gsettings(graph, concurrency=12))
    try:
        boxes = _fill(graph, 3, 12)
        results = await _remediate_all(_remediator(backend, store), boxes, 12)
    finally:
        await backend.close()
        await graph.stop()
    assert results == ["removed"] * 36
    assert graph.stats["throttled"] > 0 and backend.client.throttled > 0
    assert max(graph.peak.values()) <= 4


async def test_token_expiring_mid_run_is_refreshed_without_a_failure(store: Store) -> None:
    graph = GraphServer(service_time_s=0.01)
    await graph.start()
    backend = GraphMailboxBackend(gsettings(graph))
    try:
        boxes = _fill(graph, 4, 15)
        remediator = _remediator(backend, store)
        task = asyncio.create_task(_remediate_all(remediator, boxes, 15))
        for _ in range(2000):
            if graph.stats["requests"] >= 30:
                break
            await asyncio.sleep(0.005)
        graph.expire_tokens()  # revoked / expired before the client's own clock says so
        results = await task
    finally:
        await backend.close()
        await graph.stop()
    assert results == ["removed"] * 60
    assert graph.stats["expired_token"] > 0 and graph.stats["tokens"] >= 2
    audit = [e for e in await store.list_audit(1000) if e.get("event") == "remediate"]
    assert {e["result"] for e in audit} == {"removed"}


async def test_short_lived_token_is_renewed_before_expiry(graph: GraphServer) -> None:
    graph.token_lifetime_s = 2  # the client renews at half the lifetime
    graph.deliver("bob@corp.example", phish())
    backend = GraphMailboxBackend(gsettings(graph))
    try:
        await backend.quarantine("erin@corp.example", ident())
        await asyncio.sleep(1.1)
        out = await backend.quarantine("bob@corp.example", ident())
    finally:
        await backend.close()
    assert out.result is RemovalResult.REMOVED
    assert graph.stats["tokens"] == 2 and graph.stats["expired_token"] == 0


async def test_delta_intake_pages_checkpoint_and_new_mail(graph: GraphServer,
                                                          store: Store) -> None:
    copy = "copies@corp.example"
    for n in range(25):
        graph.deliver(copy, phish(f"<c{n}@x.test>"))
    collector = GraphDeltaCollector("graph-copy", gsettings(graph), copy, store,
                                    sync_interval_s=0.02)
    got: list[QueueItem] = []
    stop = asyncio.Event()
    want = 25

    async def enqueue(item: QueueItem) -> str:
        got.append(item)
        if len(got) >= want:
            stop.set()
        return await store.enqueue(item)

    await asyncio.wait_for(collector.run(enqueue, stop), 10)
    checkpoint = await store.get_checkpoint("graph-copy")
    assert checkpoint is not None and "$deltatoken=" in checkpoint
    assert len({i.raw for i in got}) == 25

    graph.deliver(copy, phish("<late@x.test>"))
    want, stop = 26, asyncio.Event()
    again = GraphDeltaCollector("graph-copy", gsettings(graph), copy, store,
                                sync_interval_s=0.02)
    await asyncio.wait_for(again.run(enqueue, stop), 10)
    assert b"<late@x.test>" in got[-1].raw and len(got) == 26


async def test_end_to_end_smtp_journal_to_graph_removal_and_restore(
        graph: GraphServer, store: Store, tmp_path: Path) -> None:
    original = phish()
    for r in RECIPIENTS:
        graph.deliver(r, original)
    backend = GraphMailboxBackend(gsettings(graph))
    remediator, pipeline = remediation_stack(tmp_path, store, backend)
    endpoint = SmtpJournalCollector("smtp", "127.0.0.1", free_port())
    stop = asyncio.Event()
    intake = asyncio.create_task(endpoint.run(store.enqueue, stop))
    try:
        await asyncio.wait_for(endpoint.listening.wait(), 5)
        assert endpoint.bound is not None
        report = journal_report(original, THREE_RECIPIENTS)
        await asyncio.to_thread(_send, endpoint.bound[1], report)
        for entry in await store.consume("t1", 10, 50):
            await pipeline.process(entry)
        for r in RECIPIENTS:
            assert graph.where(r) == {"Quarantine": ["<phish-1@evil.test>"]}, r
        [alert] = await store.list_alerts(10, 0)
        assert await remediator.restore(alert["key"]) == dict.fromkeys(RECIPIENTS, "restored")
        for r in RECIPIENTS:
            assert graph.where(r) == {"Inbox": ["<phish-1@evil.test>"]}
    finally:
        stop.set()
        await intake
        await backend.close()


def _send(port: int, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail("postmaster@corp.example", ["journal@trawler.example"], raw)


async def test_trawler_check_names_bad_graph_credentials(graph: GraphServer,
                                                         tmp_path: Path) -> None:
    returncode, text = await trawler_check(
        tmp_path, "mailboxes:\n  type: graph\n  tenant_id: tenant-1\n  client_id: app-1\n"
        f"  client_secret_env: T_GRAPH_SECRET\n  authority_url: {graph.base}\n"
        f"  graph_url: {graph.graph_url}\n", {"T_GRAPH_SECRET": "not-the-secret-42"})
    assert returncode == 1, text
    [line] = [ln for ln in text.splitlines() if ln.startswith("FAIL")]
    assert line == ("FAIL mailboxes (graph): Graph token for tenant tenant-1 client app-1 "
                    "refused: invalid_client (AADSTS7000215: Invalid client secret provided.)")
    assert "not-the-secret-42" not in text
