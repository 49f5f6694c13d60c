"""Journal intake from an IMAP folder: every new UID is fetched unseen and enqueued once.

The checkpoint is "UIDVALIDITY:LASTUID" in the store, moved after each enqueue
returns, so a crash replays at most the message in flight and never skips one. A
new UIDVALIDITY (the folder was recreated) starts over from UID 1.

Why a poll loop: Dovecot delays IDLE notifications by about half a second, and a
NOOP on the selected folder every 50 ms costs one tiny round trip. IDLE, when on,
runs on a second connection purely as a wake-up for slower poll intervals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import imapclient

from service.collectors.base import Enqueue
from service.collectors.imap_common import (
    ImapEndpoint,
    ImapError,
    TlsMode,
    describe,
    open_session,
    safe_logout,
    select,
    uidvalidity,
)
from service.state.base import QueueItem, Store

log = logging.getLogger(__name__)

T = TypeVar("T")

BACKOFF_START_S = 0.1
BACKOFF_CAP_S = 5.0
FULL_CHECK_S = 30.0  # search even when NOOP said nothing: a cheap safety net
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
BATCH_BYTES = 8 * 1024 * 1024  # fetch several small messages per round trip, big ones alone
BATCH_COUNT = 50
IDLE_CHECK_S = 0.25  # how often the IDLE thread looks at its halt flag


def parse_checkpoint(value: str | None) -> tuple[int, int] | None:
    """(uidvalidity, last_uid) from "UIDVALIDITY:LASTUID"; None when absent or garbled."""
    if not value:
        return None
    head, sep, tail = value.partition(":")
    if not sep or not head.isdigit() or not tail.isdigit():
        return None
    return int(head), int(tail)


class ImapJournalCollector:
    """JournalCollector over one IMAP folder (the journal mailbox)."""

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        tls: TlsMode,
        username: str,
        password: str,
        folder: str,
        store: Store,
        poll_interval_s: float = 0.05,
        idle: bool = True,
        idle_rearm_s: float = 540.0,
        tls_verify: bool = True,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        backoff_cap_s: float = BACKOFF_CAP_S,
        timeout_s: float = 30.0,
    ) -> None:
        self.name = name
        self._ep = ImapEndpoint(host, port, tls, tls_verify, timeout_s)
        self._username = username
        self._password = password
        self._folder = folder
        self._store = store
        self._poll_interval_s = poll_interval_s
        self._idle = idle
        self._idle_rearm_s = max(1.0, idle_rearm_s)
        self._max_bytes = max_bytes
        self._backoff_cap_s = backoff_cap_s

    def __repr__(self) -> str:  # never the password
        return f"ImapJournalCollector({self.name!r}, {self._ep.label}, {self._folder!r})"

    # -- check ---------------------------------------------------------------------

    async def check(self) -> None:
        await asyncio.to_thread(self._check_sync)

    def _check_sync(self) -> None:
        client = open_session(self._ep, self._username, self._password)
        try:
            select(client, self._folder, readonly=True)
        finally:
            safe_logout(client)

    # -- run -----------------------------------------------------------------------

    async def run(self, enqueue: Enqueue, stop: asyncio.Event) -> None:
        wake = asyncio.Event()
        watcher = asyncio.create_task(_relay(stop, wake))
        # Two threads: the poll connection and the optional IDLE connection.
        executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"imap-{self.name}")
        backoff = BACKOFF_START_S
        try:
            while not stop.is_set():
                session = _Session(self, executor, enqueue, stop, wake)
                try:
                    await session.run()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if stop.is_set():
                        break
                    if session.healthy:
                        backoff = BACKOFF_START_S
                    log.warning(
                        "imap journal %s: %s; reconnecting in %.1fs",
                        self.name,
                        describe(exc, (self._password,)),
                        backoff,
                    )
                    await _sleep(wake, stop, backoff)
                    backoff = min(backoff * 2, self._backoff_cap_s)
                finally:
                    await session.close()
        finally:
            watcher.cancel()
            executor.shutdown(wait=False, cancel_futures=True)


async def _relay(stop: asyncio.Event, wake: asyncio.Event) -> None:
    await stop.wait()
    wake.set()


async def _sleep(wake: asyncio.Event, stop: asyncio.Event, seconds: float) -> None:
    """Sleep until seconds pass, IDLE signals, or stop is set."""
    if stop.is_set():
        return
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await wake.wait()
    if not stop.is_set():
        wake.clear()


class _Session:
    """One connection's worth of collecting; any error ends it and run() reconnects."""

    def __init__(
        self,
        owner: ImapJournalCollector,
        executor: ThreadPoolExecutor,
        enqueue: Enqueue,
        stop: asyncio.Event,
        wake: asyncio.Event,
    ) -> None:
        self.o = owner
        self.executor = executor
        self.enqueue = enqueue
        self.stop = stop
        self.wake = wake
        self.client: imapclient.IMAPClient | None = None
        self.healthy = False  # completed a full poll cycle: resets the reconnect backoff
        self.halt_idle = threading.Event()
        self.idle_future: asyncio.Future[None] | None = None

    async def _call(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def _open(self) -> int:
        o = self.o
        self.client = open_session(o._ep, o._username, o._password)
        return uidvalidity(select(self.client, o._folder, readonly=True))

    async def run(self) -> None:
        o = self.o
        validity = await self._call(self._open)
        last = await self._resume_point(validity)
        log.info("imap journal %s: connected to %s, folder %r, after UID %d",
                 o.name, o._ep.label, o._folder, last)
        if o._idle:
            loop = asyncio.get_running_loop()
            self.idle_future = loop.run_in_executor(self.executor, self._idle_thread, loop)
        searched_at = 0.0
        changed = True
        while not self.stop.is_set():
            if changed or time.monotonic() - searched_at > FULL_CHECK_S:
                searched_at = time.monotonic()
                last = await self._collect(validity, last)
            await _sleep(self.wake, self.stop, o._poll_interval_s)
            if self.stop.is_set():
                break
            changed = await self._call(self._noop)
            self.healthy = True

    async def _resume_point(self, validity: int) -> int:
        o = self.o
        raw = await o._store.get_checkpoint(o.name)
        cp = parse_checkpoint(raw)
        if raw and cp is None:
            log.warning("imap journal %s: unreadable checkpoint %r, starting from UID 1",
                        o.name, raw[:80])
            return 0
        if cp is None:
            return 0
        if cp[0] != validity:
            log.warning(
                "imap journal %s: UIDVALIDITY changed %d -> %d (folder recreated), "
                "starting over from UID 1", o.name, cp[0], validity)
            return 0
        return cp[1]

    def _noop(self) -> bool:
        """True when the server reported any change; raises when the session went bad."""
        assert self.client is not None
        _text, responses = self.client.noop()
        for resp in responses:
            kind = resp[0] if resp else None
            detail = resp[1] if len(resp) > 1 else b""
            # A folder deleted and recreated under a selected session shows up as an
            # untagged NO (Dovecot) or a new UIDVALIDITY: only a fresh session sees it.
            if kind in (b"NO", b"BAD", b"BYE") or (
                kind == b"OK" and isinstance(detail, bytes) and b"[UIDVALIDITY" in detail
            ):
                text = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else ""
                raise ImapError(f"folder {self.o._folder!r} changed under the session: {text}")
        return bool(responses)

    def _new_uids(self, after: int) -> list[tuple[int, int]]:
        """(uid, size) of every message with UID > after, in UID order."""
        assert self.client is not None
        # "n:*" always includes the highest UID even when it is below n: filter.
        uids = [u for u in self.client.search(["UID", f"{after + 1}:*"]) if u > after]
        if not uids:
            return []
        sizes = self.client.fetch(uids, ["RFC822.SIZE"])
        return sorted((u, int(sizes.get(u, {}).get(b"RFC822.SIZE", 0))) for u in uids)

    def _fetch(self, uids: list[int], oversize: bool) -> dict[int, bytes]:
        assert self.client is not None
        if oversize:
            # Keep the head rather than drop it: a padded phish must still be scanned.
            part = f"BODY.PEEK[]<0.{self.o._max_bytes}>"
            data = self.client.fetch(uids, [part])
            key = b"BODY[]<0>"
        else:
            data = self.client.fetch(uids, ["BODY.PEEK[]"])
            key = b"BODY[]"
        out = {}
        for uid, d in data.items():
            raw = d.get(key)
            if isinstance(raw, bytes):
                out[uid] = raw
        return out

    async def _collect(self, validity: int, last: int) -> int:
        o = self.o
        new = await self._call(self._new_uids, last)
        for batch, oversize in _batches(new, o._max_bytes):
            fetched = await self._call(self._fetch, batch, oversize)
            if oversize:
                log.warning("imap journal %s: UID %d exceeds %d bytes, enqueued truncated",
                            o.name, batch[0], o._max_bytes)
            for uid in batch:
                raw = fetched.get(uid)
                if raw is None:
                    # Expunged between the listing and the fetch: nothing left to scan.
                    log.warning("imap journal %s: UID %d vanished before fetch", o.name, uid)
                else:
                    item = QueueItem(collector=o.name, raw=raw, received_at=time.time(),
                                     ref=f"{validity}:{uid}")
                    await self.enqueue(item)
                await o._store.set_checkpoint(o.name, f"{validity}:{uid}")
                last = uid
        return last

    def _idle_thread(self, loop: asyncio.AbstractEventLoop) -> None:
        """Second connection in IDLE: any server push wakes the poll loop early."""
        o = self.o
        client: imapclient.IMAPClient | None = None
        if self.halt_idle.is_set():  # queued behind a stuck predecessor, already obsolete
            return
        try:
            client = open_session(o._ep, o._username, o._password)
            select(client, o._folder, readonly=True)
            if not client.has_capability("IDLE"):
                log.info("imap journal %s: server has no IDLE, polling only", o.name)
                return
            while not self.halt_idle.is_set():
                client.idle()
                armed = time.monotonic()
                # Re-arm well inside the server's 30-minute IDLE limit (RFC 2177).
                while not self.halt_idle.is_set() and time.monotonic() - armed < o._idle_rearm_s:
                    if client.idle_check(timeout=IDLE_CHECK_S):
                        loop.call_soon_threadsafe(self.wake.set)
                # A push that raced with re-arming comes back with the DONE reply.
                if client.idle_done()[1]:
                    loop.call_soon_threadsafe(self.wake.set)
        except Exception as exc:
            # The poll loop still works without IDLE; its own errors trigger reconnects.
            if not self.halt_idle.is_set():
                log.info("imap journal %s: IDLE connection ended: %s",
                         o.name, describe(exc, (o._password,)))
        finally:
            if client is not None:
                safe_logout(client)

    async def close(self) -> None:
        self.halt_idle.set()
        if self.idle_future is not None:
            # Give IDLE a moment to leave cleanly, but never wait on it: it may sit in
            # a connect to a server that is going down, and it notices halt by itself.
            await asyncio.wait([self.idle_future], timeout=2 * IDLE_CHECK_S)
        client, self.client = self.client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await self._call(safe_logout, client)


def _batches(new: list[tuple[int, int]], max_bytes: int) -> list[tuple[list[int], bool]]:
    """Group UIDs into fetches of bounded total size; an oversize message goes alone."""
    out: list[tuple[list[int], bool]] = []
    cur: list[int] = []
    cur_bytes = 0
    for uid, size in new:
        if size > max_bytes:
            if cur:
                out.append((cur, False))
                cur, cur_bytes = [], 0
            out.append(([uid], True))
            continue
        if cur and (cur_bytes + size > BATCH_BYTES or len(cur) >= BATCH_COUNT):
            out.append((cur, False))
            cur, cur_bytes = [], 0
        cur.append(uid)
        cur_bytes += size
    if cur:
        out.append((cur, False))
    return out


__all__ = ["ImapError", "ImapJournalCollector", "parse_checkpoint"]
