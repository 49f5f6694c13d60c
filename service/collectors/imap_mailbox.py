"""Per-mailbox quarantine and restore over IMAP, logged in as "<mailbox><sep><master user>".

Remediation is on the hot path. Work on one mailbox is serialised (two quarantines of
one message must never both move it) by one worker task per busy mailbox; requests that
queue up meanwhile are coalesced into one batch: one `OR HEADER Message-ID ...` search
per folder and one UID MOVE of every confirmed copy, so the per-mailbox order becomes a
batching point instead of a throughput ceiling. Sessions are pooled per mailbox, folder
lists are cached briefly (re-listed when a search misses), and a mailbox with many
folders is searched over several sessions at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import imaplib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

import imapclient
from imapclient import exceptions as imap_exc

from service.collectors.base import (
    MessageIdentity,
    Moved,
    QuarantineOutcome,
    RemovalResult,
    RestoreResult,
)
from service.collectors.imap_common import (
    FolderCache,
    ImapEndpoint,
    ImapError,
    SessionPool,
    TlsMode,
    connect,
    describe,
    list_selectable,
    move_selected,
    open_session,
    safe_logout,
    select,
    uidvalidity,
)
from service.collectors.imap_match import (
    MAX_IDS_PER_SEARCH,
    msgid_core,
    search_confirmed,
    search_message_id,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

UNKNOWN_ORIGIN = "INBOX"  # where a copy found already quarantined goes back on restore
MAX_BATCH = 2 * MAX_IDS_PER_SEARCH  # requests coalesced into one pass over the folders
FOLDERS_PER_SESSION = 4  # below this many folders per session, another login costs more


@dataclass(eq=False)
class _Want:
    """One quarantine request; the sync side fills the fields, the loop the future."""

    ident: MessageIdentity
    dry_run: bool
    fut: asyncio.Future[QuarantineOutcome]
    found: bool = False
    moved: list[Moved] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)  # origins of moves without COPYUID
    already: list[Moved] = field(default_factory=list)

    def outcome(self) -> QuarantineOutcome:
        if self.moved or self.unmapped:  # moved, even where the new UID stayed unknown
            return QuarantineOutcome(RemovalResult.REMOVED, moved=tuple(self.moved))
        if self.found:  # only a dry run finds without moving
            return QuarantineOutcome(RemovalResult.SHADOW)
        if self.already:  # removed earlier: report where it sits, move nothing
            return QuarantineOutcome(RemovalResult.REMOVED, moved=tuple(self.already))
        return QuarantineOutcome(RemovalResult.NOT_FOUND)


@dataclass(eq=False)
class _Batch:
    wants: list[_Want]
    folders: list[str] | None  # None: list them first
    cached: bool  # folders came from the cache, so a miss re-lists
    lock: threading.Lock = field(default_factory=threading.Lock)
    has_quarantine: bool = False
    swept: set[str] = field(default_factory=set)


@dataclass(eq=False)
class _Restore:
    moved: Moved
    message_id: str | None
    fut: asyncio.Future[RestoreResult]


@dataclass(eq=False)
class _Lane:
    """The queue of one mailbox; its worker task runs the jobs one batch at a time."""

    jobs: list[_Want | _Restore] = field(default_factory=list)
    worker: asyncio.Task[None] | None = None


class ImapMailboxBackend:
    """MailboxBackend for any IMAP server with master-user logins (Dovecot)."""

    name = "imap"

    def __init__(
        self,
        host: str,
        port: int,
        tls: TlsMode,
        master_user: str,
        master_password: str,
        separator: str = "*",
        quarantine_folder: str = "Quarantine",
        pool_size: int = 8,
        tls_verify: bool = True,
        *,
        timeout_s: float = 30.0,
        check_mailbox: str | None = None,
        search_sessions: int = 3,
        folder_cache_s: float = 30.0,
    ) -> None:
        self._ep = ImapEndpoint(host, port, tls, tls_verify, timeout_s)
        self._master_user = master_user
        self._password = master_password
        self._separator = separator
        self._quarantine = quarantine_folder
        self._check_mailbox = check_mailbox
        self._search_sessions = max(1, min(search_sessions, pool_size))
        self._folders = FolderCache(folder_cache_s)
        self._pool = SessionPool(per_key=self._search_sessions,
                                 total=max(pool_size * 4, 4))
        self._slots = asyncio.Semaphore(pool_size)
        self._executor = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="imap-mbx")
        self._lanes: dict[str, _Lane] = {}

    def __repr__(self) -> str:  # never the password
        return f"ImapMailboxBackend({self._ep.label}, master={self._master_user!r})"

    # -- plumbing --------------------------------------------------------------------

    def _valid_mailbox(self, mailbox: str) -> bool:
        # The separator inside a mailbox name would let input pick the login identity.
        return bool(mailbox) and self._separator not in mailbox and mailbox.isprintable() and (
            " " not in mailbox
        )

    def _login(self, mailbox: str) -> imapclient.IMAPClient:
        return open_session(
            self._ep, f"{mailbox}{self._separator}{self._master_user}", self._password
        )

    async def _call(self, mailbox: str, op: Callable[[imapclient.IMAPClient], T]) -> T:
        async with self._slots:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, self._pool.run, mailbox,
                                              self._login, op)

    def _enqueue(self, mailbox: str, job: _Want | _Restore) -> None:
        lane = self._lanes.get(mailbox)
        if lane is None:
            lane = self._lanes[mailbox] = _Lane()
        lane.jobs.append(job)
        if lane.worker is None:
            # Not tied to any caller: a cancelled caller cannot end the mailbox's order.
            lane.worker = asyncio.create_task(self._drain(mailbox, lane))

    async def _drain(self, mailbox: str, lane: _Lane) -> None:
        current: list[_Want | _Restore] = []
        try:
            while lane.jobs:
                n = 1
                if isinstance(lane.jobs[0], _Want):
                    while n < min(len(lane.jobs), MAX_BATCH) and isinstance(lane.jobs[n], _Want):
                        n += 1
                current = lane.jobs[:n]
                del lane.jobs[:n]
                if isinstance(current[0], _Restore):
                    await self._restore_one(mailbox, current[0])
                else:
                    await self._quarantine_batch(mailbox, [
                        w for w in current if isinstance(w, _Want) and not w.fut.done()])
                current = []
        finally:
            # Cancelled (close) with work left: fail it rather than leave callers hanging.
            for job in current + lane.jobs:
                if job.fut.done():
                    continue
                if isinstance(job, _Want):
                    job.fut.set_result(QuarantineOutcome(RemovalResult.FAILED,
                                                         reason="backend closed"))
                else:
                    job.fut.set_result(RestoreResult.FAILED)
            lane.jobs.clear()
            lane.worker = None
            if self._lanes.get(mailbox) is lane:
                del self._lanes[mailbox]

    # -- MailboxBackend ----------------------------------------------------------------

    async def quarantine(
        self, mailbox: str, ident: MessageIdentity, *, dry_run: bool = False
    ) -> QuarantineOutcome:
        if not self._valid_mailbox(mailbox):
            return QuarantineOutcome(RemovalResult.FAILED, reason="invalid mailbox name")
        if not msgid_core(ident.message_id):
            return QuarantineOutcome(RemovalResult.FAILED, reason="unusable Message-ID")
        want = _Want(ident, dry_run, asyncio.get_running_loop().create_future())
        self._enqueue(mailbox, want)
        return await want.fut

    async def restore(
        self, mailbox: str, moved: Moved, *, message_id: str | None = None
    ) -> RestoreResult:
        """Move one quarantined copy back; message_id lets it be found if its UID is stale."""
        if not self._valid_mailbox(mailbox):
            return RestoreResult.FAILED
        job = _Restore(moved, message_id, asyncio.get_running_loop().create_future())
        self._enqueue(mailbox, job)
        return await job.fut

    async def _restore_one(self, mailbox: str, job: _Restore) -> None:
        try:
            result = await self._call(
                mailbox, lambda c: self._restore_sync(c, job.moved, job.message_id))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("imap restore in %s failed: %s", mailbox,
                        describe(exc, (self._password,)))
            result = RestoreResult.FAILED
        finally:
            self._folders.forget(mailbox)  # restore may have created a folder
        if not job.fut.done():
            job.fut.set_result(result)

    async def check(self) -> None:
        """Reach the server; with check_mailbox, also prove the master login works."""
        def probe() -> None:
            mailbox = self._check_mailbox
            client = self._login(mailbox) if mailbox else connect(self._ep)
            safe_logout(client)

        await asyncio.to_thread(probe)

    async def close(self) -> None:
        workers = [lane.worker for lane in self._lanes.values() if lane.worker is not None]
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        clients = self._pool.drain()
        loop = asyncio.get_running_loop()
        for client in clients:
            await loop.run_in_executor(self._executor, safe_logout, client)
        self._executor.shutdown(wait=False)

    # -- batches ---------------------------------------------------------------------------

    async def _quarantine_batch(self, mailbox: str, wants: list[_Want]) -> None:
        if not wants:
            return
        folders = self._folders.get(mailbox)
        batch = _Batch(wants, folders, cached=folders is not None)
        try:
            search = [f for f in folders or () if f != self._quarantine]
            groups = min(self._search_sessions, len(search) // FOLDERS_PER_SESSION)
            if groups > 1:
                # Many folders: sweep them over several sessions at once.
                done = await asyncio.gather(*(
                    self._call(mailbox, functools.partial(
                        self._sweep_all, mailbox=mailbox, batch=batch, folders=search[i::groups]))
                    for i in range(groups)),
                    return_exceptions=True)  # all sessions finish before any retry
                for err in done:
                    if isinstance(err, BaseException):
                        raise err
            await self._call(mailbox, lambda c: self._finish_sync(c, mailbox, batch))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._folders.forget(mailbox)  # a folder may have gone: list afresh next time
            if len(wants) > 1 and isinstance(exc, imaplib.IMAP4.error) and not isinstance(
                    exc, imaplib.IMAP4.abort):
                # A NO/BAD may come from one hostile request: it must not fail its
                # batch-mates, so retry each alone. A server that is down fails them all
                # at once instead of once per request.
                for want in wants:
                    await self._quarantine_batch(mailbox, [want])
                return
            reason = describe(exc, (self._password,))
            log.warning("imap quarantine in %s failed: %s", mailbox, reason)
            for want in wants:
                if not want.fut.done():
                    want.fut.set_result(QuarantineOutcome(RemovalResult.FAILED, reason=reason))
            return
        for want in wants:
            if not want.fut.done():
                want.fut.set_result(want.outcome())

    # -- the work, in worker threads ----------------------------------------------------

    def _list(self, client: imapclient.IMAPClient, mailbox: str) -> list[str]:
        folders = list_selectable(client)
        self._folders.put(mailbox, folders)
        return folders

    @staticmethod
    def _search(client: imapclient.IMAPClient, wants: list[_Want]) -> dict[int, list[_Want]]:
        """Confirmed copies in the selected folder: UID -> the requests it matches."""
        hits = search_confirmed(client, [w.ident for w in wants])
        return {uid: [wants[i] for i in idx] for uid, idx in hits.items()}

    def _sweep_all(self, client: imapclient.IMAPClient, mailbox: str, batch: _Batch,
                   folders: list[str]) -> None:
        for folder in folders:
            self._sweep(client, mailbox, batch, folder, batch.wants)

    def _sweep(self, client: imapclient.IMAPClient, mailbox: str, batch: _Batch,
               folder: str, wants: list[_Want]) -> None:
        """Find the wanted copies in folder and move them out in the same selection."""
        try:
            # Read-write at once: the MOVE needs it, and a second SELECT costs as much.
            select(client, folder, readonly=False)
        except ImapError:
            if folder in self._list(client, mailbox):
                raise
            return  # deleted since the folder list was read: nothing to find there
        self._sweep_selected(client, mailbox, batch, folder, wants)
        with batch.lock:  # only now: a sweep cut short by a dead session is run again
            batch.swept.add(folder)

    def _sweep_selected(self, client: imapclient.IMAPClient, mailbox: str, batch: _Batch,
                        folder: str, wants: list[_Want]) -> None:
        hits = self._search(client, wants)
        movers = {}
        for uid, matched in hits.items():
            for want in matched:
                want.found = True
            if any(not w.dry_run for w in matched):
                movers[uid] = [w for w in matched if not w.dry_run]
        if not movers:
            return
        self._ensure_quarantine(client, mailbox, batch)
        try:
            validity, mapping = move_selected(client, sorted(movers), self._quarantine)
        except imap_exc.IMAPClientError as exc:
            if "TRYCREATE" not in str(exc) or isinstance(exc, imap_exc.IMAPClientAbortError):
                raise
            # Deleted since the folder list was cached: create it and move once more.
            with contextlib.suppress(imap_exc.IMAPClientError):
                client.create_folder(self._quarantine)
            self._folders.forget(mailbox)
            validity, mapping = move_selected(client, sorted(movers), self._quarantine)
        with batch.lock:
            for uid, matched in movers.items():
                for want in matched:
                    if uid in mapping:
                        want.moved.append(Moved(folder, self._quarantine,
                                                f"{validity}:{mapping[uid]}"))
                    else:
                        want.unmapped.append(folder)

    def _ensure_quarantine(self, client: imapclient.IMAPClient, mailbox: str,
                           batch: _Batch) -> None:
        with batch.lock:
            if batch.has_quarantine or self._quarantine in (batch.folders or ()):
                return
            with contextlib.suppress(imap_exc.IMAPClientError):
                client.create_folder(self._quarantine)  # a racing create is fine
            batch.has_quarantine = True
            if batch.folders is None:
                self._folders.forget(mailbox)
            else:
                self._folders.put(mailbox, [*batch.folders, self._quarantine])

    def _finish_sync(self, client: imapclient.IMAPClient, mailbox: str, batch: _Batch) -> None:
        """Sweep what is left; then re-list on a miss, look in quarantine, map stray moves."""
        if batch.folders is None:
            batch.folders = self._list(client, mailbox)
        for folder in batch.folders:
            if folder != self._quarantine and folder not in batch.swept:
                self._sweep(client, mailbox, batch, folder, batch.wants)
        missing = [w for w in batch.wants if not w.found]
        if missing and batch.cached:
            # The cached list may predate a folder the message was filed into.
            fresh = self._list(client, mailbox)
            for folder in fresh:
                if folder != self._quarantine and folder not in batch.swept:
                    self._sweep(client, mailbox, batch, folder, missing)
            batch.folders = fresh
            missing = [w for w in missing if not w.found]
        if self._quarantine not in batch.folders and not batch.has_quarantine:
            return
        # Only a request found nowhere else needs the quarantine search (idempotency),
        # plus any move whose new UID the server did not report (no UIDPLUS).
        stray = [w for w in batch.wants if w.unmapped]
        if not missing and not stray:
            return
        validity = uidvalidity(select(client, self._quarantine, readonly=True))
        hits = self._search(client, missing + stray)
        taken = {int(m.new_ref.split(":")[1]) for w in batch.wants for m in w.moved}
        for want in missing:
            want.already = [Moved(UNKNOWN_ORIGIN, self._quarantine, f"{validity}:{uid}")
                            for uid in sorted(hits) if want in hits[uid]]
        for want in stray:
            fresh_uids = [u for u in sorted(hits) if want in hits[u] and u not in taken]
            for folder, uid in zip(want.unmapped, fresh_uids, strict=False):
                want.moved.append(Moved(folder, self._quarantine, f"{validity}:{uid}"))

    def _restore_sync(
        self, client: imapclient.IMAPClient, moved: Moved, message_id: str | None
    ) -> RestoreResult:
        if not client.folder_exists(moved.quarantine_folder):
            return RestoreResult.NOT_FOUND
        info = select(client, moved.quarantine_folder, readonly=False)
        uids: list[int] = []
        head, _, tail = moved.new_ref.partition(":")
        if head.isdigit() and tail.isdigit() and int(head) == uidvalidity(info):
            uid = int(tail)
            uids = [u for u in client.search(["UID", str(uid)]) if u == uid]
        if not uids and message_id:
            uids = search_message_id(client, message_id)
        if not uids:
            return RestoreResult.NOT_FOUND
        if not client.folder_exists(moved.original_folder):
            client.create_folder(moved.original_folder)
        move_selected(client, uids, moved.original_folder)
        return RestoreResult.RESTORED


__all__ = ["ImapError", "ImapMailboxBackend"]
