"""IMAP journal collector and IMAP mailbox backend against a real, private Dovecot."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import statistics
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import imapclient
import pytest

from service.collectors.base import (
    MessageIdentity,
    Moved,
    RemovalResult,
    RestoreResult,
)
from service.collectors.imap import (
    ImapError,
    ImapJournalCollector,
    ImapMailboxBackend,
    parse_checkpoint,
)
from service.state.base import QueueItem
from service.state.sqlite import SqliteStore
from tests.servers.dovecot import (
    MASTER_PASSWORD,
    MASTER_USER,
    PASSWORD,
    DovecotServer,
    free_port,
    group_members,
)

JOURNAL = "Journal"
_ids = itertools.count(1)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    server = DovecotServer()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def private_dovecot() -> Iterator[DovecotServer]:
    """Its own server, for tests that restart it."""
    server = DovecotServer()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def user(dovecot: DovecotServer) -> str:
    return dovecot.add_user(f"user{next(_ids)}-{time.monotonic_ns()}@corp.example")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(tmp_path / "state.db", synchronous="NORMAL")
    await s.open()
    yield s
    await s.close()


def message(
    n: int,
    *,
    message_id: str | None = None,
    from_: str = "Mallory <mallory@evil.example>",
    subject: str = "Invoice",
    date: str = "Mon, 6 May 2024 10:00:00 +0000",
) -> bytes:
    mid = message_id or f"<msg-{n}-{time.monotonic_ns()}@evil.example>"
    return (
        f"Message-ID: {mid}\r\nFrom: {from_}\r\nTo: alice@corp.example\r\n"
        f"Subject: {subject}\r\nDate: {date}\r\n\r\nbody {n}\r\n"
    ).encode()


def collector(server: DovecotServer, user: str, store: SqliteStore, **kw: object) -> (
    ImapJournalCollector
):
    opts: dict[str, object] = {"poll_interval_s": 0.02, "idle": False, "backoff_cap_s": 0.3}
    opts.update(kw)
    return ImapJournalCollector(
        "journal", server.host, server.port, "none", user, PASSWORD, JOURNAL, store,
        **opts,  # type: ignore[arg-type]
    )


class Sink:
    """Collects what the collector enqueues, with the monotonic time of each."""

    def __init__(self) -> None:
        self.items: list[QueueItem] = []
        self.times: list[float] = []
        self.changed = asyncio.Event()

    async def __call__(self, item: QueueItem) -> str:
        self.items.append(item)
        self.times.append(time.monotonic())
        self.changed.set()
        return str(len(self.items))

    async def wait_for(self, n: int, within: float = 10.0) -> None:
        async with asyncio.timeout(within):
            while len(self.items) < n:
                self.changed.clear()
                await self.changed.wait()

    @property
    def message_ids(self) -> list[str]:
        out = []
        for item in self.items:
            head = item.raw.split(b"\r\n", 1)[0].decode()
            out.append(head.partition(":")[2].strip())
        return out


@asynccontextmanager
async def running(c: ImapJournalCollector) -> AsyncIterator[Sink]:
    sink = Sink()
    stop = asyncio.Event()
    task = asyncio.create_task(c.run(sink, stop))
    try:
        yield sink
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


def mid(raw: bytes) -> str:
    return raw.split(b"\r\n", 1)[0].decode().partition(":")[2].strip()


def folder_state(server: DovecotServer, user: str, folder: str) -> tuple[int, dict[int, tuple[
    bytes, ...]]]:
    with server.imap_user_login(user) as c:
        info = c.select_folder(folder, readonly=True)
        flags = c.get_flags(c.search("ALL"))
        return int(info[b"UIDVALIDITY"]), flags


# -- journal collector ------------------------------------------------------------------


async def test_collects_in_order_unseen_and_moves_checkpoint(
    dovecot: DovecotServer, user: str, store: SqliteStore
) -> None:
    before = [message(i) for i in range(3)]
    uids = [dovecot.append(user, JOURNAL, raw) for raw in before]
    async with running(collector(dovecot, user, store)) as sink:
        await sink.wait_for(3)
        later = [message(i) for i in range(3, 5)]
        uids += [await asyncio.to_thread(dovecot.append, user, JOURNAL, raw) for raw in later]
        await sink.wait_for(5)
        await asyncio.sleep(0.1)  # nothing more may arrive
    assert [i.raw for i in sink.items] == before + later
    validity, flags = folder_state(dovecot, user, JOURNAL)
    assert [i.ref for i in sink.items] == [f"{validity}:{u}" for u in uids]
    assert all(i.collector == "journal" for i in sink.items)
    assert await store.get_checkpoint("journal") == f"{validity}:{uids[-1]}"
    assert all(b"\\Seen" not in f for f in flags.values()), flags


async def test_restart_resumes_without_replay(
    dovecot: DovecotServer, user: str, store: SqliteStore
) -> None:
    first = [message(i) for i in range(2)]
    for raw in first:
        dovecot.append(user, JOURNAL, raw)
    async with running(collector(dovecot, user, store)) as sink:
        await sink.wait_for(2)
    # Restart with nothing new: "UID n:*" still returns the last message; it must
    # be filtered out, not replayed.
    async with running(collector(dovecot, user, store)) as sink:
        await asyncio.sleep(0.3)
        assert sink.items == []
        new = message(9)
        await asyncio.to_thread(dovecot.append, user, JOURNAL, new)
        await sink.wait_for(1)
        await asyncio.sleep(0.1)
    assert [i.raw for i in sink.items] == [new]


async def test_uidvalidity_change_starts_over(
    dovecot: DovecotServer, user: str, store: SqliteStore
) -> None:
    dovecot.append(user, JOURNAL, message(1))
    async with running(collector(dovecot, user, store)) as sink:
        await sink.wait_for(1)
    old = parse_checkpoint(await store.get_checkpoint("journal"))
    assert old is not None
    with dovecot.imap_user_login(user) as c:  # recreate the folder: new UIDVALIDITY
        c.delete_folder(JOURNAL)
        c.create_folder(JOURNAL)
    fresh = [message(i) for i in range(2)]
    for raw in fresh:
        dovecot.append(user, JOURNAL, raw)
    async with running(collector(dovecot, user, store)) as sink:
        await sink.wait_for(2)
        await asyncio.sleep(0.1)
    assert [i.raw for i in sink.items] == fresh
    new = parse_checkpoint(await store.get_checkpoint("journal"))
    assert new is not None and new[0] != old[0] and new[1] == 2


async def test_folder_recreated_while_running_is_followed(
    dovecot: DovecotServer, user: str, store: SqliteStore
) -> None:
    dovecot.append(user, JOURNAL, message(0))

    def recreate() -> None:
        with dovecot.imap_user_login(user) as c:
            c.delete_folder(JOURNAL)
            c.create_folder(JOURNAL)

    async with running(collector(dovecot, user, store)) as sink:
        await sink.wait_for(1)
        await asyncio.to_thread(recreate)
        new = message(1)
        await asyncio.to_thread(dovecot.append, user, JOURNAL, new)
        await sink.wait_for(2, within=5)
    assert sink.items[1].raw == new
    validity, _ = folder_state(dovecot, user, JOURNAL)
    assert await store.get_checkpoint("journal") == f"{validity}:1"


async def test_garbled_checkpoint_starts_from_first_uid(
    dovecot: DovecotServer, user: str, store: SqliteStore
) -> None:
    raw = message(1)
    dovecot.append(user, JOURNAL, raw)
    await store.set_checkpoint("journal", "not-a-checkpoint")
    async with running(collector(dovecot, user, store)) as sink:
        await sink.wait_for(1)
    assert [i.raw for i in sink.items] == [raw]


async def test_dovecot_restart_mid_run_loses_nothing(
    private_dovecot: DovecotServer, store: SqliteStore
) -> None:
    server = private_dovecot
    u = server.add_user("journal@corp.example")
    sent = [message(i) for i in range(2)]
    for raw in sent:
        server.append(u, JOURNAL, raw)
    async with running(collector(server, u, store, idle=True)) as sink:
        await sink.wait_for(2)
        await asyncio.to_thread(server.restart)
        more = [message(i) for i in range(2, 5)]
        for raw in more:
            await asyncio.to_thread(server.append, u, JOURNAL, raw)
        sent += more
        await sink.wait_for(5, within=15)
        await asyncio.sleep(0.2)
    assert [i.raw for i in sink.items] == sent


async def test_failed_enqueue_moves_no_checkpoint_and_retries(
    dovecot: DovecotServer, user: str, store: SqliteStore
) -> None:
    raws = [message(i) for i in range(2)]
    for raw in raws:
        dovecot.append(user, JOURNAL, raw)
    sink = Sink()
    calls = 0

    async def flaky(item: QueueItem) -> str:
        nonlocal calls
        calls += 1
        if calls == 2:  # the queue is down for the second message, once
            raise ConnectionError("store unavailable")
        return await sink(item)

    stop = asyncio.Event()
    task = asyncio.create_task(collector(dovecot, user, store).run(flaky, stop))
    await sink.wait_for(2)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert [i.raw for i in sink.items] == raws  # first once, second retried, none lost
    cp = parse_checkpoint(await store.get_checkpoint("journal"))
    assert cp is not None and cp[1] == 2


async def test_idle_wakes_a_slow_poll(
    dovecot: DovecotServer, user: str, store: SqliteStore
) -> None:
    dovecot.append(user, JOURNAL, message(0))
    c = collector(dovecot, user, store, poll_interval_s=30.0, idle=True, idle_rearm_s=1.0)
    async with running(c) as sink:
        await sink.wait_for(1)
        await asyncio.sleep(1.2)  # IDLE armed, and re-armed at least once
        await asyncio.to_thread(dovecot.append, user, JOURNAL, message(1))
        await sink.wait_for(2, within=5)  # far sooner than the 30 s poll


async def test_check_reports_clear_errors(
    dovecot: DovecotServer, user: str, store: SqliteStore
) -> None:
    dovecot.append(user, JOURNAL, message(0))
    await collector(dovecot, user, store).check()

    bad = ImapJournalCollector("j", dovecot.host, dovecot.port, "none", user, "Wr0ng-pw-xyz",
                               JOURNAL, store)
    with pytest.raises(ImapError, match="login refused") as err:
        await bad.check()
    assert "Wr0ng-pw-xyz" not in str(err.value)

    missing = ImapJournalCollector("j", dovecot.host, dovecot.port, "none", user, PASSWORD,
                                   "NoSuchFolder", store)
    with pytest.raises(ImapError, match="NoSuchFolder"):
        await missing.check()

    refused = ImapJournalCollector("j", "127.0.0.1", free_port(), "none", user, PASSWORD,
                                   JOURNAL, store)
    with pytest.raises(ImapError, match="connection refused"):
        await refused.check()

    tls = ImapJournalCollector("j", dovecot.host, dovecot.port, "ssl", user, PASSWORD,
                               JOURNAL, store, timeout_s=3)
    with pytest.raises(ImapError, match="TLS"):
        await tls.check()


async def test_collector_survives_refused_connection_and_stops_promptly(
    store: SqliteStore,
) -> None:
    c = ImapJournalCollector("j", "127.0.0.1", free_port(), "none", "u", "secret-pw",
                             JOURNAL, store, backoff_cap_s=0.2)
    stop = asyncio.Event()
    sink = Sink()
    task = asyncio.create_task(c.run(sink, stop))
    await asyncio.sleep(0.5)
    assert not task.done()  # retrying, not crashed
    stop.set()
    await asyncio.wait_for(task, 2)


async def test_append_to_enqueue_latency(
    dovecot: DovecotServer, user: str, store: SqliteStore
) -> None:
    dovecot.append(user, JOURNAL, message(0))
    n = 20
    appended: list[float] = []

    def append_all() -> None:
        with dovecot.imap_user_login(user) as c:
            for i in range(1, n + 1):
                c.append(JOURNAL, message(i))
                appended.append(time.monotonic())
                time.sleep(0.03 + (i % 5) * 0.007)  # spread over the poll phase

    async with running(collector(dovecot, user, store, poll_interval_s=0.05)) as sink:
        await sink.wait_for(1)
        await asyncio.to_thread(append_all)
        await sink.wait_for(n + 1)
    lat = [t - a for t, a in zip(sink.times[1:], appended, strict=True)]
    p50 = statistics.median(lat)
    print(f"\nIMAP journal APPEND->enqueue p50 {p50 * 1000:.1f} ms, max {max(lat) * 1000:.1f} ms")
    assert p50 < 0.2


# -- mailbox backend ----------------------------------------------------------------------


@pytest.fixture
async def backend(dovecot: DovecotServer) -> AsyncIterator[ImapMailboxBackend]:
    b = ImapMailboxBackend(dovecot.host, dovecot.port, "none", MASTER_USER, MASTER_PASSWORD,
                           pool_size=4)
    yield b
    await b.close()


def identity(raw: bytes, **override: str | None) -> MessageIdentity:
    headers = dict(
        line.split(": ", 1) for line in raw.split(b"\r\n\r\n")[0].decode().split("\r\n")
    )
    fields: dict[str, str | None] = {
        "message_id": headers["Message-ID"],
        "from_header": headers["From"],
        "subject": headers["Subject"],
        "date": headers["Date"],
    }
    fields.update(override)
    return MessageIdentity(**fields)  # type: ignore[arg-type]


async def test_quarantine_moves_every_copy_and_spares_the_decoy(
    dovecot: DovecotServer, user: str, backend: ImapMailboxBackend
) -> None:
    mid_ = f"<phish-{time.monotonic_ns()}@evil.example>"
    phish = message(1, message_id=mid_)
    decoy = message(2, message_id=mid_, from_="Bob <bob@corp.example>")  # same id, other From
    longer = message(3, message_id=mid_[:-1] + ".x>")  # SEARCH HEADER would match this too
    dovecot.append(user, "INBOX", phish)
    dovecot.append(user, "INBOX", decoy)
    dovecot.append(user, "INBOX", longer)
    dovecot.append(user, "Archive.2024", phish)
    assert "Quarantine" not in dovecot.folders(user)

    out = await backend.quarantine(user, identity(phish))

    assert out.result is RemovalResult.REMOVED, out
    assert sorted(m.original_folder for m in out.moved) == ["Archive.2024", "INBOX"]
    assert all(m.quarantine_folder == "Quarantine" for m in out.moved)
    validity, _ = folder_state(dovecot, user, "Quarantine")
    assert all(m.new_ref.startswith(f"{validity}:") for m in out.moved)
    assert dovecot.message_ids(user, "Quarantine") == [mid_, mid_]
    assert dovecot.message_ids(user, "INBOX") == [mid_, mid_[:-1] + ".x>"]  # decoy, longer
    assert dovecot.message_ids(user, "Archive.2024") == []

    again = await backend.quarantine(user, identity(phish))
    assert again.result is RemovalResult.REMOVED
    assert sorted(m.new_ref for m in again.moved) == sorted(m.new_ref for m in out.moved)
    assert len(dovecot.message_ids(user, "Quarantine")) == 2  # never moved twice

    for m in out.moved:
        assert await backend.restore(user, m) is RestoreResult.RESTORED
        assert await backend.restore(user, m) is RestoreResult.NOT_FOUND  # idempotent
    assert dovecot.message_ids(user, "Quarantine") == []
    assert dovecot.message_ids(user, "Archive.2024") == [mid_]
    assert sorted(dovecot.message_ids(user, "INBOX")) == sorted([mid_, mid_, mid(longer)])


async def test_restore_finds_the_copy_by_message_id_when_the_uid_is_stale(
    dovecot: DovecotServer, user: str, backend: ImapMailboxBackend
) -> None:
    raw = message(1)
    dovecot.append(user, "INBOX", raw)
    out = await backend.quarantine(user, identity(raw))
    [m] = out.moved
    stale = Moved(m.original_folder, m.quarantine_folder, "1:999999")
    assert await backend.restore(user, stale) is RestoreResult.NOT_FOUND
    assert await backend.restore(user, stale, message_id=mid(raw)) is RestoreResult.RESTORED
    assert dovecot.message_ids(user, "INBOX") == [mid(raw)]


async def test_identity_fields_must_all_agree(
    dovecot: DovecotServer, user: str, backend: ImapMailboxBackend
) -> None:
    raw = message(1, from_="=?utf-8?q?M=C3=A4llory?= <Mallory@Evil.example>",
                  subject="Your  =?utf-8?q?Rechnung?=")
    dovecot.append(user, "INBOX", raw)
    for wrong in ({"subject": "Other"}, {"date": "Tue, 7 May 2024 10:00:00 +0000"},
                  {"from_header": "Mällory <other@evil.example>"},
                  {"message_id": mid(raw).upper()}):
        out = await backend.quarantine(user, identity(raw, **wrong))
        assert out.result is RemovalResult.NOT_FOUND, wrong
    # Decoded, whitespace-normalised forms match; None means "not checked".
    ok = identity(raw, from_header="Mällory <mallory@evil.example>", subject="Your Rechnung",
                  date=None)
    out = await backend.quarantine(user, ok, dry_run=True)
    assert out.result is RemovalResult.SHADOW and out.moved == ()
    assert dovecot.message_ids(user, "INBOX") == [mid(raw)]  # dry run moved nothing
    assert "Quarantine" not in dovecot.folders(user)
    assert (await backend.quarantine(user, ok)).result is RemovalResult.REMOVED


async def test_not_found_and_failures_carry_no_secret(
    dovecot: DovecotServer, user: str, backend: ImapMailboxBackend
) -> None:
    out = await backend.quarantine(user, identity(message(1)))
    assert out.result is RemovalResult.NOT_FOUND

    bad = ImapMailboxBackend(dovecot.host, dovecot.port, "none", MASTER_USER, "Wr0ng-master-pw")
    try:
        out = await bad.quarantine(user, identity(message(1)))
    finally:
        await bad.close()
    assert out.result is RemovalResult.FAILED
    assert out.reason and "login refused" in out.reason and "Wr0ng-master-pw" not in out.reason

    for name in ("", "alice*other@corp.example", "a b@corp.example"):
        out = await backend.quarantine(name, identity(message(1)))
        assert out.result is RemovalResult.FAILED and out.reason == "invalid mailbox name"
    out = await backend.quarantine(user, identity(message(1), message_id="<\r\n>"))
    assert out.result is RemovalResult.FAILED


async def test_pooled_session_survives_a_server_restart(
    private_dovecot: DovecotServer,
) -> None:
    server = private_dovecot
    u = server.add_user("bob@corp.example")
    b = ImapMailboxBackend(server.host, server.port, "none", MASTER_USER, MASTER_PASSWORD)
    try:
        first, second = message(1), message(2)
        server.append(u, "INBOX", first)
        server.append(u, "INBOX", second)
        assert (await b.quarantine(u, identity(first))).result is RemovalResult.REMOVED
        await asyncio.to_thread(server.restart)  # the pooled session is now dead
        assert (await b.quarantine(u, identity(second))).result is RemovalResult.REMOVED
        assert server.message_ids(u, "Quarantine") == [mid(first), mid(second)]
    finally:
        await b.close()


async def test_copy_fallback_without_move_capability() -> None:
    # A server that does not advertise MOVE: COPY + \Deleted + UID EXPUNGE instead.
    with DovecotServer(extra_config="imap_capability = IMAP4rev1 LITERAL+ UIDPLUS IDLE\n") as s:
        u = s.add_user("carol@corp.example")
        raw = message(1)
        s.append(u, "Projects", raw)
        b = ImapMailboxBackend(s.host, s.port, "none", MASTER_USER, MASTER_PASSWORD)
        try:
            out = await b.quarantine(u, identity(raw))
            assert out.result is RemovalResult.REMOVED
            [m] = out.moved
            assert m.original_folder == "Projects"
            assert s.message_ids(u, "Projects") == []
            assert await b.restore(u, m) is RestoreResult.RESTORED
            assert s.message_ids(u, "Projects") == [mid(raw)]
        finally:
            await b.close()


async def test_quarantine_latency_with_warm_pool(
    dovecot: DovecotServer, user: str, backend: ImapMailboxBackend
) -> None:
    for folder in ("INBOX", "Archive", "Sent", "Projects.A", "Projects.B"):
        dovecot.append_many(user, folder, [message(i) for i in range(20)])
    raws = [message(100 + i) for i in range(11)]
    dovecot.append_many(user, "INBOX", raws)
    assert (await backend.quarantine(user, identity(raws[0]))).result is RemovalResult.REMOVED
    times = []
    for raw in raws[1:]:
        t = time.perf_counter()
        out = await backend.quarantine(user, identity(raw))
        times.append(time.perf_counter() - t)
        assert out.result is RemovalResult.REMOVED
    p50 = statistics.median(times)
    print(f"\nIMAP quarantine (7 folders, warm pool) p50 {p50 * 1000:.1f} ms, "
          f"max {max(times) * 1000:.1f} ms")
    assert p50 < 0.25


async def test_queued_requests_for_one_mailbox_are_coalesced_into_one_batch(
    dovecot: DovecotServer, user: str, backend: ImapMailboxBackend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batches: list[int] = []
    real = backend._quarantine_batch

    async def counting(mailbox: str, wants: list[Any]) -> None:
        batches.append(len(wants))
        await real(mailbox, wants)

    monkeypatch.setattr(backend, "_quarantine_batch", counting)
    phish = [message(i) for i in range(8)]
    dovecot.append_many(user, "INBOX", phish[:5])
    dovecot.append_many(user, "Archive", [*phish[5:], phish[0]])  # two copies of phish[0]
    decoy = message(50, message_id=mid(phish[1]), from_="Bob <bob@corp.example>")
    dovecot.append(user, "INBOX", decoy)  # same Message-ID, other sender: stays
    shadow = message(60)
    dovecot.append(user, "INBOX", shadow)
    earlier = message(70)
    dovecot.append(user, "INBOX", earlier)
    first = await backend.quarantine(user, identity(earlier))  # quarantined before the burst
    assert first.result is RemovalResult.REMOVED
    batches.clear()

    outs = await asyncio.gather(
        *(backend.quarantine(user, identity(raw)) for raw in phish),
        backend.quarantine(user, identity(phish[2])),  # the same request twice
        backend.quarantine(user, identity(shadow), dry_run=True),
        backend.quarantine(user, identity(message(80))),  # in no folder
        backend.quarantine(user, identity(earlier)),
    )

    assert batches == [12], batches  # all queued at once: one pass over the folders
    *removed, twice, dry, missing, again = outs
    for raw, out in zip(phish, removed, strict=True):
        assert out.result is RemovalResult.REMOVED, (mid(raw), out)
    assert sorted(m.original_folder for m in removed[0].moved) == ["Archive", "INBOX"]
    assert [m.original_folder for m in removed[6].moved] == ["Archive"]
    assert twice.moved == removed[2].moved  # moved once, reported to both
    assert dry.result is RemovalResult.SHADOW and dry.moved == ()
    assert missing.result is RemovalResult.NOT_FOUND
    assert again.result is RemovalResult.REMOVED and again.moved == first.moved
    quarantined = dovecot.message_ids(user, "Quarantine")
    assert sorted(quarantined) == sorted([mid(r) for r in phish] + [mid(phish[0]), mid(earlier)])
    assert dovecot.message_ids(user, "INBOX") == [mid(decoy), mid(shadow)]
    assert dovecot.message_ids(user, "Archive") == []
    validity, _ = folder_state(dovecot, user, "Quarantine")
    refs = [m.new_ref for out in removed for m in out.moved]
    assert len(set(refs)) == len(refs) == 9 and all(r.startswith(f"{validity}:") for r in refs)

    # Every copy goes back where it came from.
    for out in removed:
        for m in out.moved:
            assert await backend.restore(user, m) is RestoreResult.RESTORED
    assert sorted(dovecot.message_ids(user, "Archive")) == sorted(
        mid(r) for r in [*phish[5:], phish[0]])


async def test_a_hostile_request_does_not_fail_its_batch(
    dovecot: DovecotServer, user: str, backend: ImapMailboxBackend
) -> None:
    raws = [message(i) for i in range(3)]
    dovecot.append_many(user, "INBOX", raws)
    # Longer than Dovecot accepts on a command line: the batched SEARCH fails.
    huge = identity(message(9), message_id=f"<{'x' * 70_000}@evil.example>")
    outs = await asyncio.gather(*(backend.quarantine(user, identity(r)) for r in raws[:2]),
                                backend.quarantine(user, huge),
                                backend.quarantine(user, identity(raws[2])))
    assert [o.result for o in outs] == [RemovalResult.REMOVED, RemovalResult.REMOVED,
                                        RemovalResult.FAILED, RemovalResult.REMOVED], outs
    assert outs[2].reason and MASTER_PASSWORD not in outs[2].reason
    assert dovecot.message_ids(user, "INBOX") == []


async def test_folder_cache_misses_are_listed_again(
    dovecot: DovecotServer, user: str, backend: ImapMailboxBackend
) -> None:
    dovecot.append(user, "INBOX", message(0))
    dovecot.append(user, "Old", message(1))
    assert (await backend.quarantine(user, identity(message(2)))).result is (
        RemovalResult.NOT_FOUND)
    assert backend._folders.get(user) is not None  # the folder list is now cached

    # A folder created after the cache was filled is still searched.
    late = message(3)
    dovecot.append(user, "Later.Sub", late)
    out = await backend.quarantine(user, identity(late))
    assert out.result is RemovalResult.REMOVED
    assert [m.original_folder for m in out.moved] == ["Later.Sub"]

    # A cached folder deleted meanwhile is skipped, not a failure; a deleted
    # quarantine folder is created again.
    with dovecot.imap_user_login(user) as c:
        c.delete_folder("Old")
        c.delete_folder("Quarantine")
    assert backend._folders.get(user) is not None
    raw = message(4)
    dovecot.append(user, "INBOX", raw)
    out = await backend.quarantine(user, identity(raw))
    assert out.result is RemovalResult.REMOVED, out
    assert dovecot.message_ids(user, "Quarantine") == [mid(raw)]


async def test_many_folders_are_swept_over_several_sessions(
    dovecot: DovecotServer, user: str, backend: ImapMailboxBackend
) -> None:
    folders = ["INBOX"] + [f"F{i}" for i in range(11)]
    for folder in folders:
        dovecot.append_many(user, folder, [message(i) for i in range(3)])
    raw = message(99)
    for folder in ("INBOX", "F4", "F9"):
        dovecot.append(user, folder, raw)
    assert (await backend.quarantine(user, identity(message(5)))).result is (
        RemovalResult.NOT_FOUND)  # fills the folder cache
    for client in backend._pool.drain():  # count the sessions the sweep opens
        client.logout()
    out = await backend.quarantine(user, identity(raw))
    assert out.result is RemovalResult.REMOVED
    assert sorted(m.original_folder for m in out.moved) == ["F4", "F9", "INBOX"]
    sessions = backend._pool.drain()
    for client in sessions:
        client.logout()
    assert len(sessions) > 1  # the folders were split over sessions
    assert dovecot.message_ids(user, "Quarantine") == [mid(raw)] * 3


def test_stop_ends_every_process_of_the_instance(private_dovecot: DovecotServer) -> None:
    server = private_dovecot
    u = server.add_user("dora@corp.example")
    client = imapclient.IMAPClient(server.host, server.port, ssl=False, timeout=5)
    client.login(f"{u}*{MASTER_USER}", MASTER_PASSWORD)
    client.select_folder("INBOX")
    assert server._proc is not None
    pgid = server._proc.pid
    server.stop()
    assert group_members(pgid) == []
    try:
        with pytest.raises((imapclient.exceptions.IMAPClientAbortError, OSError)):
            client.noop()  # its imap process is gone with the server
    finally:
        with contextlib.suppress(OSError):
            client.shutdown()
    server.start()
    with server.imap_user_login(u) as c:  # and a restart serves again
        assert c.select_folder("INBOX")[b"EXISTS"] == 0


async def test_a_server_that_is_down_fails_a_batch_at_once() -> None:
    b = ImapMailboxBackend("127.0.0.1", free_port(), "none", MASTER_USER, MASTER_PASSWORD)
    try:
        outs = await asyncio.gather(*(b.quarantine(f"u{i}@corp.example", identity(message(i)))
                                      for i in range(3)),
                                    *(b.quarantine("same@corp.example", identity(message(i)))
                                      for i in range(5)))
    finally:
        await b.close()
    assert {o.result for o in outs} == {RemovalResult.FAILED}
    assert all(o.reason and "connection refused" in o.reason for o in outs)
