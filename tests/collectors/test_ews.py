"""EWS (exchangelib) against the local SOAP endpoint: journal sync, quarantine, restore, check."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from service.collectors import ews_journal
from service.collectors.base import MessageIdentity, RemovalResult, RestoreResult
from service.collectors.ews_common import EwsSettings
from service.collectors.ews_journal import EwsJournalCollector
from service.collectors.ews_mailbox import EwsMailboxBackend
from service.state.base import QueueItem, Store
from tests.collectors.conftest import remediation_stack, trawler_check
from tests.conftest import free_port
from tests.mailgen import THREE_RECIPIENTS, journal_report, phish
from tests.servers.ews import EwsServer

RECIPIENTS = ("bob@corp.example", "carol@corp.example", "dave@corp.example")
IDENT = MessageIdentity("<phish-1@evil.test>", '"IT Helpdesk" <helpdesk@evil.test>',
                        "Password expiry notice", None)
SVC, SVC_PASSWORD = "svc-trawler@corp.example", "ews-pass-7f1"


@pytest.fixture
async def ews() -> AsyncIterator[EwsServer]:
    server = EwsServer({SVC: SVC_PASSWORD}, impersonator=SVC)
    await server.start()
    yield server
    await server.stop()


def settings(server: EwsServer, password: str = SVC_PASSWORD) -> EwsSettings:
    return EwsSettings(server.url, SVC, password, version="Exchange2016", auth_type="basic",
                       access_type="impersonation", threads=4, timeout_s=5)


async def test_quarantine_every_folder_confirms_headers_and_restores(ews: EwsServer) -> None:
    box = "bob@corp.example"
    ews.add_folder(box, "Projects")
    ews.add_folder(box, "Deep", parent="Projects")
    ews.deliver(box, phish())
    ews.deliver(box, phish(), folder="Deep")
    # Same Message-ID, other subject: a forged report must not pull this one.
    ews.deliver(box, phish(subject="Lunch on Friday"), folder="Projects")
    backend = EwsMailboxBackend(settings(ews))
    try:
        shadow = await backend.quarantine(box, IDENT, dry_run=True)
        assert shadow.result is RemovalResult.SHADOW and len(shadow.moved) == 2
        assert "MoveItem" not in {op for op, _ in ews.calls}

        out = await backend.quarantine(box, IDENT)
        assert out.result is RemovalResult.REMOVED, out.reason
        assert len(out.moved) == 2
        assert ews.folder_names(box) == {"Quarantine": ["<phish-1@evil.test>"] * 2,
                                         "Projects": ["<phish-1@evil.test>"]}
        # Impersonation: every call acted in bob's mailbox, none in the service account's.
        assert {mb for _, mb in ews.calls} == {box}

        again = await backend.quarantine(box, IDENT)  # idempotent: nothing moves twice
        assert again.result is RemovalResult.REMOVED
        assert [op for op, _ in ews.calls].count("MoveItem") == 1

        assert [await backend.restore(box, m) for m in out.moved] == [RestoreResult.RESTORED] * 2
        names = ews.folder_names(box)
        assert names.get("Quarantine") is None
        assert names["Inbox"] == names["Deep"] == ["<phish-1@evil.test>"]
        assert await backend.restore(box, out.moved[0]) is RestoreResult.NOT_FOUND
    finally:
        await backend.close()


async def test_quarantine_not_found_and_refused_names(ews: EwsServer) -> None:
    backend = EwsMailboxBackend(settings(ews))
    try:
        assert (await backend.quarantine("erin@corp.example", IDENT)).result \
            is RemovalResult.NOT_FOUND
        bad = await backend.quarantine("not an address", IDENT)
        assert bad.result is RemovalResult.SKIPPED
    finally:
        await backend.close()


async def test_wrong_password_is_a_failed_outcome_without_the_secret(ews: EwsServer) -> None:
    backend = EwsMailboxBackend(settings(ews, password="wrong-secret-xyz"))
    try:
        out = await backend.quarantine("bob@corp.example", IDENT)
        assert out.result is RemovalResult.FAILED
        assert out.reason is not None and "credentials refused" in out.reason
        assert "wrong-secret-xyz" not in out.reason
    finally:
        await backend.close()


async def _collect_until(collector: EwsJournalCollector, store: Store, want: int,
                         seen: list[QueueItem] | None = None) -> list[QueueItem]:
    got: list[QueueItem] = [] if seen is None else seen
    stop = asyncio.Event()

    async def enqueue(item: QueueItem) -> str:
        got.append(item)
        if len(got) >= want:
            stop.set()
        return await store.enqueue(item)

    await asyncio.wait_for(collector.run(enqueue, stop), 20)
    return got


async def test_journal_sync_pages_and_checkpoint_after_whole_page(
        ews: EwsServer, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ews_journal, "MAX_CHANGES", 5)
    journal = "journal@corp.example"
    for n in range(12):
        ews.deliver(journal, phish(f"<m{n}@x.test>"))
    collector = EwsJournalCollector("ews-journal", settings(ews), journal, store,
                                    sync_interval_s=0.05)
    # A crash after 7 enqueues: mid second page. The checkpoint holds page one only.
    crashed: list[QueueItem] = []
    died = asyncio.Event()

    async def dying(item: QueueItem) -> str:
        if len(crashed) == 7:
            died.set()
            raise RuntimeError("killed")
        crashed.append(item)
        return await store.enqueue(item)

    stop = asyncio.Event()
    task = asyncio.create_task(collector.run(dying, stop))
    await asyncio.wait_for(died.wait(), 10)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert [op for op, _ in ews.calls].count("SyncFolderItems") >= 2
    checkpoint = await store.get_checkpoint("ews-journal")
    assert checkpoint is not None

    restarted = EwsJournalCollector("ews-journal", settings(ews), journal, store,
                                    sync_interval_s=0.05)
    rest = await _collect_until(restarted, store, 7)
    mids = [item.raw.split(b"Message-ID: ")[1].split(b"\r\n")[0] for item in crashed + rest]
    # Page two is replayed (at-least-once), nothing is skipped.
    assert sorted(set(mids)) == sorted(f"<m{n}@x.test>".encode() for n in range(12))
    assert len(rest) == 7


async def test_end_to_end_ews_journal_to_removal_and_restore(
        ews: EwsServer, store: Store, tmp_path: Path) -> None:
    original = phish()
    for r in RECIPIENTS:
        ews.deliver(r, original)
    ews.deliver("bob@corp.example", phish("<other@ok.test>", body="lunch?"))
    ews.deliver("journal@corp.example", journal_report(original, THREE_RECIPIENTS))

    backend = EwsMailboxBackend(settings(ews))
    remediator, pipeline = remediation_stack(tmp_path, store, backend)
    started = time.perf_counter()
    collector = EwsJournalCollector("ews-journal", settings(ews), "journal@corp.example",
                                    store, sync_interval_s=0.05)
    await _collect_until(collector, store, 1)
    for entry in await store.consume("t1", 10, 50):
        await pipeline.process(entry)
    elapsed = time.perf_counter() - started
    try:
        for r in RECIPIENTS:
            assert ews.folder_names(r)["Quarantine"] == ["<phish-1@evil.test>"], r
        assert ews.folder_names("bob@corp.example")["Inbox"] == ["<other@ok.test>"]
        [alert] = await store.list_alerts(10, 0)
        assert {k: v["result"] for k, v in alert["remediation"].items()} == dict.fromkeys(
            RECIPIENTS, "removed")
        assert elapsed < 10
        results = await remediator.restore(alert["key"])
        assert results == dict.fromkeys(RECIPIENTS, "restored")
        for r in RECIPIENTS:
            assert "<phish-1@evil.test>" in ews.folder_names(r)["Inbox"]
            assert "Quarantine" not in ews.folder_names(r)
    finally:
        await backend.close()


async def test_trawler_check_names_a_bad_ews_url(ews: EwsServer, tmp_path: Path) -> None:
    bad = f"http://127.0.0.1:{free_port()}/EWS/Exchange.asmx"  # nothing listens there
    returncode, text = await trawler_check(
        tmp_path, "mailboxes:\n  type: ews\n"
        f"  service_endpoint: {bad}\n  username: {SVC}\n  password_env: T_EWS_PW\n"
        "  auth_type: basic\n", {"T_EWS_PW": SVC_PASSWORD})
    assert returncode == 1, text
    [line] = [ln for ln in text.splitlines() if ln.startswith("FAIL")]
    assert line.startswith("FAIL mailboxes (ews): EWS " + bad), line
    assert "cannot reach the endpoint" in line
    assert SVC_PASSWORD not in text
