"""Maildir journal collector and Maildir mailbox backend, on real directories under tmp_path."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from service.collectors.base import (
    JournalCollector,
    MailboxBackend,
    MessageIdentity,
    Moved,
    RemovalResult,
    RestoreResult,
)
from service.collectors.maildir import (
    MaildirError,
    MaildirJournalCollector,
    MaildirMailboxBackend,
)
from service.collectors.maildir_journal import PROCESSED_MARK
from service.mime import parse
from service.pipeline import identity
from service.state import QueueItem, Store, open_store

# -- journal collector -------------------------------------------------------------------


class Sink:
    """The enqueue callable: enqueues into the store and records what it was handed."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.items: list[QueueItem] = []
        self.fail_next = 0

    async def __call__(self, item: QueueItem) -> str:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("queue unavailable")
        entry_id = await self.store.enqueue(item)
        self.items.append(item)
        return entry_id


async def until(cond: Callable[[], bool], within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@pytest.fixture
async def running() -> AsyncIterator[Callable[[MaildirJournalCollector, Sink], None]]:
    """Start collectors in tasks; stop them all (and surface their errors) at the end."""
    tasks: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    def start(collector: MaildirJournalCollector, sink: Sink) -> None:
        stop = asyncio.Event()
        tasks.append((stop, asyncio.create_task(collector.run(sink, stop))))

    yield start
    for stop, _ in tasks:
        stop.set()
    for _, task in tasks:
        await asyncio.wait_for(task, 5)


def collector(path: Path, store: Store) -> MaildirJournalCollector:
    return MaildirJournalCollector("journal", path, store, poll_interval_s=0.01)


def drop(path: Path, sub: str, name: str, data: bytes, age_s: float = 0.0) -> Path:
    """Write a file the Maildir way (tmp/ then rename), optionally backdated."""
    (path / "tmp").mkdir(parents=True, exist_ok=True)
    (path / sub).mkdir(parents=True, exist_ok=True)
    tmp = path / "tmp" / name
    tmp.write_bytes(data)
    if age_s:
        past = time.time() - age_s
        os.utime(tmp, (past, past))
    target = path / sub / name
    os.rename(tmp, target)
    return target


async def test_collector_satisfies_protocol(tmp_path: Path, store: Store) -> None:
    assert isinstance(collector(tmp_path / "j", store), JournalCollector)


async def test_picks_up_new_and_unprocessed_cur(tmp_path: Path, store: Store,
                                                running: Any) -> None:
    path = tmp_path / "journal"
    col = collector(path, store)
    await col.check()
    assert all((path / sub).is_dir() for sub in ("cur", "new", "tmp"))
    drop(path, "new", "1700000000.M1P1.host", b"Subject: a\r\n\r\nbody a\r\n")
    drop(path, "cur", "1700000001.M2P1.host:2,F", b"Subject: b\r\n\r\nbody b\r\n")
    drop(path, "tmp", "1700000002.M3P1.host", b"Subject: in tmp\r\n\r\n")
    drop(path, "new", ".hidden", b"Subject: dotfile\r\n\r\n")
    sink = Sink(store)
    running(col, sink)
    await until(lambda: len(sink.items) == 2)
    await asyncio.sleep(0.1)
    assert sorted(i.raw for i in sink.items) == [b"Subject: a\r\n\r\nbody a\r\n",
                                                  b"Subject: b\r\n\r\nbody b\r\n"]
    assert {i.collector for i in sink.items} == {"journal"}
    assert {i.ref for i in sink.items} == {"new/1700000000.M1P1.host",
                                           "cur/1700000001.M2P1.host:2,F"}
    assert os.listdir(path / "new") == [".hidden"]
    assert os.listdir(path / "tmp") == ["1700000002.M3P1.host"]
    done = sorted(os.listdir(path / "cur"))
    assert done == [f"1700000000.M1P1.host{PROCESSED_MARK}:2,S",
                    f"1700000001.M2P1.host{PROCESSED_MARK}:2,FS"]
    assert await store.queue_depth() == 2
    checkpoint = await store.get_checkpoint("journal")
    assert checkpoint is not None and checkpoint.removeprefix("cur/") in done


async def test_each_message_enqueued_once_across_restart(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "journal"
    col = collector(path, store)
    await col.check()
    drop(path, "new", "1.M1.host", b"Subject: one\r\n\r\n")
    first = Sink(store)
    stop = asyncio.Event()
    task = asyncio.create_task(col.run(first, stop))
    await until(lambda: len(first.items) == 1)
    await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(task, 5)

    # As after a restart: a fresh store on the same database, a fresh collector.
    reopened = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    await reopened.open()
    second = Sink(reopened)
    stop = asyncio.Event()
    task = asyncio.create_task(collector(path, reopened).run(second, stop))
    try:
        drop(path, "new", "2.M2.host", b"Subject: two\r\n\r\n")
        await until(lambda: len(second.items) == 1)
        await asyncio.sleep(0.3)  # many polls: the first message must not come back
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        depth = await reopened.queue_depth()
        await reopened.close()
    assert [i.raw for i in first.items] == [b"Subject: one\r\n\r\n"]
    assert [i.raw for i in second.items] == [b"Subject: two\r\n\r\n"]
    assert depth == 2


async def test_half_written_file_waits_until_complete(tmp_path: Path, store: Store,
                                                      running: Any) -> None:
    path = tmp_path / "journal"
    # A wide settle time, so that a loaded test machine pausing the writer between
    # chunks does not look like a finished file.
    col = MaildirJournalCollector("journal", path, store, poll_interval_s=0.01, settle_s=0.5)
    await col.check()
    sink = Sink(store)
    running(col, sink)
    chunks = [b"Subject: slow\r\n\r\n"] + [b"line %d\r\n" % n for n in range(20)]
    # A user copying straight into new/: the file is there while still growing.
    # Blocking writes of a few bytes to a local file: fine inside this test.
    with open(path / "new" / "slow.eml", "wb") as fh:  # noqa: ASYNC230
        for chunk in chunks:
            fh.write(chunk)
            fh.flush()
            await asyncio.sleep(0.015)
            assert sink.items == []
    await until(lambda: len(sink.items) == 1)
    await asyncio.sleep(0.1)
    assert [i.raw for i in sink.items] == [b"".join(chunks)]


async def test_unreadable_files_are_moved_aside(tmp_path: Path, store: Store,
                                                running: Any) -> None:
    path = tmp_path / "journal"
    col = collector(path, store)
    await col.check()
    os.symlink(tmp_path / "nowhere", path / "new" / "dangling")
    os.symlink("/etc/hostname", path / "new" / "symlink-out")
    (path / "new" / "a-directory").mkdir()
    os.mkfifo(path / "new" / "a-fifo")  # opening it for reading must not hang
    sink = Sink(store)
    running(col, sink)
    drop(path, "new", "good", b"Subject: fine\r\n\r\n")
    await until(lambda: len(sink.items) == 1)
    await until(lambda: len(os.listdir(path / ".Failed" / "cur")) == 4)
    assert sorted(os.listdir(path / ".Failed" / "cur")) == [
        "a-directory", "a-fifo", "dangling", "symlink-out"]
    assert os.listdir(path / "new") == []
    assert [i.raw for i in sink.items] == [b"Subject: fine\r\n\r\n"]


async def test_enqueue_failure_retries_without_marking(tmp_path: Path, store: Store,
                                                       running: Any) -> None:
    path = tmp_path / "journal"
    col = collector(path, store)
    await col.check()
    drop(path, "new", "x", b"Subject: retry\r\n\r\n", age_s=5)
    sink = Sink(store)
    sink.fail_next = 1
    running(col, sink)
    await asyncio.sleep(0.2)
    assert sink.items == []
    assert os.listdir(path / "new") == ["x"]  # not marked: the enqueue did not happen
    await until(lambda: len(sink.items) == 1)
    await until(lambda: os.listdir(path / "new") == [])  # marked right after the enqueue
    assert await store.queue_depth() == 1


async def test_check_refuses_a_file(tmp_path: Path, store: Store) -> None:
    not_a_dir = tmp_path / "journal"
    not_a_dir.write_bytes(b"")
    with pytest.raises(MaildirError, match="journal"):
        await collector(not_a_dir, store).check()


# -- mailbox backend ---------------------------------------------------------------------

MID = "<phish-1@evil.example>"
IDENT = MessageIdentity(message_id=MID, from_header="Payroll <pay@evil.example>",
                        subject="Your salary", date="Mon, 04 Mar 2024 10:00:00 +0000")


def message(mid: str = MID, from_: str = "Payroll <pay@evil.example>",
            subject: str = "Your salary", date: str = "Mon, 04 Mar 2024 10:00:00 +0000",
            body: bytes = b"click http://evil.example/\r\n") -> bytes:
    head = f"From: {from_}\r\nTo: alice@corp.example\r\nSubject: {subject}\r\n" \
           f"Date: {date}\r\nMessage-ID: {mid}\r\n\r\n"
    return head.encode() + body


def put(mbox: Path, rel_dir: str, name: str, data: bytes) -> Path:
    folder = rel_dir.rpartition("/")[0]
    for sub in ("cur", "new", "tmp"):
        (mbox / folder / sub).mkdir(parents=True, exist_ok=True)
    target = mbox / rel_dir / name
    target.write_bytes(data)
    return target


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "mailboxes"
    r.mkdir()
    return r


async def test_backend_satisfies_protocol(root: Path) -> None:
    backend = MaildirMailboxBackend(root)
    assert isinstance(backend, MailboxBackend)
    assert backend.name == "maildir"
    await backend.check()
    await backend.close()


async def test_quarantine_and_restore_roundtrip(root: Path) -> None:
    mbox = root / "alice@corp.example"
    in_inbox = put(mbox, "new", "1.M1.host", message())
    in_sub = put(mbox, ".Finance/cur", "2.M2.host:2,S", message())
    decoy = put(mbox, "cur", "3.M3.host:2,", message(from_="Boss <boss@corp.example>"))
    other = put(mbox, "cur", "4.M4.host:2,", message(mid="<other@corp.example>"))
    backend = MaildirMailboxBackend(root)

    out = await backend.quarantine("alice@corp.example", IDENT)
    assert out.result is RemovalResult.REMOVED
    assert sorted(m.original_folder for m in out.moved) == [".Finance/cur", "new"]
    assert {m.quarantine_folder for m in out.moved} == {".Quarantine/cur"}
    assert not in_inbox.exists() and not in_sub.exists()
    assert decoy.exists() and other.exists()
    quarantined = sorted(os.listdir(mbox / ".Quarantine" / "cur"))
    assert quarantined == sorted(m.new_ref for m in out.moved)
    assert all((mbox / ".Quarantine" / sub).is_dir() for sub in ("new", "tmp"))

    again = await backend.quarantine("alice@corp.example", IDENT)
    assert again.result is RemovalResult.REMOVED
    assert sorted(again.moved, key=str) == sorted(out.moved, key=str)
    assert sorted(os.listdir(mbox / ".Quarantine" / "cur")) == quarantined

    for moved in out.moved:
        restored = await backend.restore("alice@corp.example", Moved.from_json(moved.to_json()))
        assert restored is RestoreResult.RESTORED
    assert in_inbox.read_bytes() == message() and in_sub.read_bytes() == message()
    assert os.listdir(mbox / ".Quarantine" / "cur") == []
    assert await backend.restore("alice@corp.example", out.moved[0]) is RestoreResult.NOT_FOUND


async def test_identity_must_agree_beyond_message_id(root: Path) -> None:
    mbox = root / "bob@corp.example"
    put(mbox, "cur", "1.M1.host:2,", message())
    backend = MaildirMailboxBackend(root)
    for ident in (
        MessageIdentity(MID, "Payroll <pay@evil.example>", "Other subject", None),
        MessageIdentity(MID, "x@evil.example", None, None),
        MessageIdentity(MID, None, None, "Tue, 05 Mar 2024 10:00:00 +0000"),
        MessageIdentity("<phish-1@evil.example.more>", None, None, None),
        MessageIdentity("", None, None, None),
    ):
        out = await backend.quarantine("bob@corp.example", ident)
        assert out.result is RemovalResult.NOT_FOUND, ident
    assert os.listdir(mbox / "cur") == ["1.M1.host:2,"]


async def test_matches_folded_encoded_and_equivalent_headers(root: Path) -> None:
    mbox = root / "carol@corp.example"
    raw = (b"From: =?utf-8?q?Pay=C3=A9?= <pay@evil.example>\r\n"
           b"Subject: =?utf-8?q?Your_salary?=\r\n  review\r\n"
           b"Date: Mon, 4 Mar 2024 11:00:00 +0100\r\n"
           b"Message-ID:\r\n <phish-1@evil.example>\r\n\r\nbody\r\n")
    put(mbox, "new", "1.M1.host", raw)
    backend = MaildirMailboxBackend(root)
    ident = MessageIdentity(MID, "pay@evil.example", "Your salary review",
                            "Mon, 04 Mar 2024 10:00:00 +0000")
    out = await backend.quarantine("carol@corp.example", ident)
    assert out.result is RemovalResult.REMOVED
    assert len(out.moved) == 1


async def test_dry_run_moves_nothing(root: Path) -> None:
    mbox = root / "dave@corp.example"
    put(mbox, "cur", "1.M1.host:2,S", message())
    before = tree(root)
    out = await MaildirMailboxBackend(root).quarantine("dave@corp.example", IDENT, dry_run=True)
    assert out.result is RemovalResult.SHADOW
    assert [m.original_folder for m in out.moved] == ["cur"]
    assert tree(root) == before
    assert not (mbox / ".Quarantine").exists()


@pytest.mark.parametrize("hostile", [
    "../outside@corp.example", "..", ".", "", "a/b@corp.example", "x@../outside",
    "alice@corp.example/../../outside@corp.example", "a\x00@corp.example",
    ".Quarantine@corp.example", "x@..", "no-at-sign", "a@b@corp.example", "a b@corp.example",
])
async def test_hostile_mailbox_names_are_refused(tmp_path: Path, root: Path,
                                                 hostile: str) -> None:
    outside = tmp_path / "outside@corp.example"
    put(outside, "cur", "1.M1.host:2,", message())
    before = tree(tmp_path)
    backend = MaildirMailboxBackend(root)
    out = await backend.quarantine(hostile, IDENT)
    assert out.result is RemovalResult.SKIPPED
    assert out.reason and "refused" in out.reason
    moved = Moved(original_folder="cur", quarantine_folder=".Quarantine/cur",
                  new_ref="1.M1.host:2,")
    assert await backend.restore(hostile, moved) is RestoreResult.FAILED
    assert tree(tmp_path) == before


async def test_symlinked_mailbox_leaving_root_is_not_touched(tmp_path: Path, root: Path) -> None:
    outside = tmp_path / "elsewhere"
    put(outside, "cur", "1.M1.host:2,", message())
    os.symlink(outside, root / "eve@corp.example")
    before = tree(tmp_path)
    out = await MaildirMailboxBackend(root).quarantine("eve@corp.example", IDENT)
    assert out.result is RemovalResult.FAILED
    assert tree(tmp_path) == before


async def test_tampered_restore_records_are_refused(tmp_path: Path, root: Path) -> None:
    mbox = root / "frank@corp.example"
    put(mbox, "new", "1.M1.host", message())
    backend = MaildirMailboxBackend(root)
    out = await backend.quarantine("frank@corp.example", IDENT)
    ref = out.moved[0].new_ref
    for bad in (
        Moved("../../escape/cur", ".Quarantine/cur", ref),
        Moved("cur", ".Quarantine/cur", "../../x"),
        Moved("..", ".Quarantine/cur", ref),
        Moved(".Sub/../../cur", ".Quarantine/cur", ref),
        Moved("cur", "../cur", ref),
    ):
        assert await backend.restore("frank@corp.example", bad) is RestoreResult.FAILED
    assert os.listdir(mbox / ".Quarantine" / "cur") == [ref]
    assert not (tmp_path / "escape").exists()


async def test_missing_mailbox_and_domains(root: Path) -> None:
    backend = MaildirMailboxBackend(root, quarantine_folder="Quarantine",
                                    organisation_domains=["Corp.Example"])
    assert backend.quarantine_folder == ".Quarantine"
    out = await backend.quarantine("nobody@corp.example", IDENT)
    assert out.result is RemovalResult.NOT_FOUND
    put(root / "gina@partner.example", "cur", "1.M1.host:2,", message())
    out = await backend.quarantine("gina@partner.example", IDENT)
    assert out.result is RemovalResult.SKIPPED
    assert os.listdir(root / "gina@partner.example" / "cur") == ["1.M1.host:2,"]


async def test_large_mailbox_and_hostile_files(root: Path) -> None:
    mbox = root / "henry@corp.example"
    for n in range(1500):
        put(mbox, "cur", f"{n}.M{n}.host:2,S", message(mid=f"<m{n}@corp.example>"))
    put(mbox, "cur", "huge.M0.host:2,", b"X-Pad: " + b"a" * 2_000_000 + b"\r\n")
    put(mbox, "cur", "match.M0.host:2,", message())
    os.mkfifo(mbox / "cur" / "fifo")
    os.symlink("/etc/hostname", mbox / "cur" / "link")
    started = time.monotonic()
    out = await MaildirMailboxBackend(root).quarantine("henry@corp.example", IDENT)
    assert time.monotonic() - started < 10
    assert out.result is RemovalResult.REMOVED
    assert [m.original_folder for m in out.moved] == ["cur"]
    assert len(os.listdir(mbox / "cur")) == 1500 + 3


async def test_identity_from_the_parsed_journal_copy_matches(root: Path) -> None:
    raw = (b"Return-Path: <pay@evil.example>\r\n"
           b"From: =?utf-8?q?Pay=C3=A9?= <pay@evil.example>\r\n"
           b"Subject: =?utf-8?q?Your_salary?=\r\n review =?iso-8859-1?q?caf=E9?=\r\n"
           b"Date: Mon, 4 Mar 2024 11:00:00 +0100\r\n"
           b"Message-ID: <phish-2@evil.example>\r\n\r\nbody\r\n")
    put(root / "ivan@corp.example", "new", "1.M1.host", raw)
    ident = identity(parse(raw))
    out = await MaildirMailboxBackend(root).quarantine("ivan@corp.example", ident)
    assert out.result is RemovalResult.REMOVED


async def test_concurrent_quarantines_move_each_copy_once(root: Path) -> None:
    mbox = root / "judy@corp.example"
    put(mbox, "cur", "1.M1.host:2,S", message())
    backend = MaildirMailboxBackend(root)
    outs = await asyncio.gather(*(backend.quarantine("judy@corp.example", IDENT)
                                  for _ in range(4)))
    assert [o.result for o in outs] == [RemovalResult.REMOVED] * 4
    assert all(len(o.moved) == 1 for o in outs)
    assert len(os.listdir(mbox / ".Quarantine" / "cur")) == 1
    assert os.listdir(mbox / "cur") == []
    # Restored, then removed again: still one copy, and it goes back to the same place.
    moved = next(o for o in outs if o.moved).moved[0]
    assert await backend.restore("judy@corp.example", moved) is RestoreResult.RESTORED
    again = await backend.quarantine("judy@corp.example", IDENT)
    assert again.result is RemovalResult.REMOVED
    assert [m.original_folder for m in again.moved] == ["cur"]
    assert await backend.restore("judy@corp.example", again.moved[0]) is RestoreResult.RESTORED
    assert os.listdir(mbox / "cur") == ["1.M1.host:2,S"]
