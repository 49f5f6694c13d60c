"""Per-mailbox quarantine and restore over IMAP, logged in as "<mailbox><sep><master user>".

Remediation is on the hot path, so logged-in sessions are pooled per mailbox and one
whole operation (list, search, confirm, move) runs in one worker thread. Operations
on one mailbox are serialised: two concurrent quarantines of the same message must
not both move it.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import logging
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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
    ImapEndpoint,
    ImapError,
    TlsMode,
    connect,
    describe,
    open_session,
    safe_logout,
    select,
    uidvalidity,
)
from service.collectors.imap_match import (
    confirm,
    header_fetch_item,
    msgid_core,
    msgid_equal,
    parse_copyuid,
    parse_headers,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

IDLE_MAX_S = 120.0  # a pooled session older than this is replaced, not trusted
UNKNOWN_ORIGIN = "INBOX"  # where a copy found already quarantined goes back on restore
_NOT_SELECTABLE = {b"\\noselect", b"\\nonexistent"}
# Connection-level failures: the session is dead, a fresh one may succeed.
_BROKEN = (imap_exc.IMAPClientAbortError, imaplib.IMAP4.abort, OSError)


class _Pool:
    """Idle logged-in sessions per mailbox; thread-safe, least recently used evicted."""

    def __init__(self, per_mailbox: int, total: int) -> None:
        self._per_mailbox = per_mailbox
        self._total = total
        self._idle: OrderedDict[str, list[tuple[imapclient.IMAPClient, float]]] = OrderedDict()
        self._count = 0
        self._lock = threading.Lock()

    def take(self, mailbox: str) -> imapclient.IMAPClient | None:
        stale = []
        found = None
        with self._lock:
            sessions = self._idle.get(mailbox, [])
            while sessions:
                client, since = sessions.pop()
                self._count -= 1
                if time.monotonic() - since < IDLE_MAX_S:
                    found = client
                    break
                stale.append(client)
            if not sessions:
                self._idle.pop(mailbox, None)
        for client in stale:
            safe_logout(client)
        return found

    def give(self, mailbox: str, client: imapclient.IMAPClient) -> None:
        evicted = []
        with self._lock:
            sessions = self._idle.setdefault(mailbox, [])
            self._idle.move_to_end(mailbox)
            sessions.append((client, time.monotonic()))
            self._count += 1
            if len(sessions) > self._per_mailbox:
                evicted.append(sessions.pop(0)[0])
                self._count -= 1
            while self._count > self._total:
                oldest, old_sessions = next(iter(self._idle.items()))
                evicted.append(old_sessions.pop(0)[0])
                self._count -= 1
                if not old_sessions:
                    del self._idle[oldest]
        for c in evicted:
            safe_logout(c)

    def drain(self) -> list[imapclient.IMAPClient]:
        with self._lock:
            out = [c for sessions in self._idle.values() for c, _ in sessions]
            self._idle.clear()
            self._count = 0
        return out


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
    ) -> None:
        self._ep = ImapEndpoint(host, port, tls, tls_verify, timeout_s)
        self._master_user = master_user
        self._password = master_password
        self._separator = separator
        self._quarantine = quarantine_folder
        self._check_mailbox = check_mailbox
        self._pool = _Pool(per_mailbox=2, total=max(pool_size * 4, 4))
        self._slots = asyncio.Semaphore(pool_size)
        self._executor = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="imap-mbx")
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

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

    def _with_session(self, mailbox: str, op: Callable[[imapclient.IMAPClient], T]) -> T:
        """Run op on a pooled session; a dead pooled one is replaced once."""
        client = self._pool.take(mailbox)
        pooled = client is not None
        if client is None:
            client = self._login(mailbox)
        try:
            result = op(client)
        except _BROKEN:
            safe_logout(client)
            if not pooled:
                raise
            client = self._login(mailbox)
            try:
                result = op(client)
            except BaseException:
                safe_logout(client)
                raise
        except BaseException:
            # A NO/BAD leaves the session usable, but its state is unknown: drop it.
            safe_logout(client)
            raise
        self._pool.give(mailbox, client)
        return result

    async def _run(self, mailbox: str, op: Callable[[imapclient.IMAPClient], T]) -> T:
        lock = self._locks.get(mailbox)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[mailbox] = lock
        async with lock, self._slots:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, self._with_session, mailbox, op)

    # -- MailboxBackend ----------------------------------------------------------------

    async def quarantine(
        self, mailbox: str, ident: MessageIdentity, *, dry_run: bool = False
    ) -> QuarantineOutcome:
        if not self._valid_mailbox(mailbox):
            return QuarantineOutcome(RemovalResult.FAILED, reason="invalid mailbox name")
        if not msgid_core(ident.message_id):
            return QuarantineOutcome(RemovalResult.FAILED, reason="unusable Message-ID")
        try:
            return await self._run(mailbox, lambda c: self._quarantine_sync(c, ident, dry_run))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = describe(exc, (self._password,))
            log.warning("imap quarantine in %s failed: %s", mailbox, reason)
            return QuarantineOutcome(RemovalResult.FAILED, reason=reason)

    async def restore(
        self, mailbox: str, moved: Moved, *, message_id: str | None = None
    ) -> RestoreResult:
        """Move one quarantined copy back; message_id lets it be found if its UID is stale."""
        if not self._valid_mailbox(mailbox):
            return RestoreResult.FAILED
        try:
            return await self._run(mailbox, lambda c: self._restore_sync(c, moved, message_id))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("imap restore in %s failed: %s", mailbox,
                        describe(exc, (self._password,)))
            return RestoreResult.FAILED

    async def check(self) -> None:
        """Reach the server; with check_mailbox, also prove the master login works."""
        def probe() -> None:
            mailbox = self._check_mailbox
            client = self._login(mailbox) if mailbox else connect(self._ep)
            safe_logout(client)

        await asyncio.to_thread(probe)

    async def close(self) -> None:
        clients = self._pool.drain()
        loop = asyncio.get_running_loop()
        for client in clients:
            await loop.run_in_executor(self._executor, safe_logout, client)
        self._executor.shutdown(wait=False)

    # -- the work, in a worker thread -------------------------------------------------------

    def _folders(self, client: imapclient.IMAPClient) -> list[str]:
        out = []
        for flags, _delim, name in client.list_folders():
            if {f.lower() for f in flags} & _NOT_SELECTABLE:
                continue
            out.append(name if isinstance(name, str) else name.decode("utf-8", "replace"))
        return out

    def _find(self, client: imapclient.IMAPClient, folder: str, ident: MessageIdentity,
              ) -> tuple[int, list[int]]:
        """(uidvalidity, confirmed UIDs) of copies of ident in folder."""
        validity = uidvalidity(select(client, folder, readonly=True))
        core = msgid_core(ident.message_id)
        charset = None if core.isascii() else "UTF-8"
        # SEARCH HEADER is a substring match: every hit is confirmed below.
        uids = client.search(["HEADER", "Message-ID", core], charset=charset)
        if not uids:
            return validity, []
        data = client.fetch(sorted(uids), [header_fetch_item()])
        confirmed = [u for u in sorted(uids) if u in data and confirm(data[u], ident)]
        return validity, confirmed

    def _quarantine_sync(
        self, client: imapclient.IMAPClient, ident: MessageIdentity, dry_run: bool
    ) -> QuarantineOutcome:
        folders = self._folders(client)
        found: list[tuple[str, list[int]]] = []
        already: list[int] = []
        q_validity = 0
        for folder in folders:
            validity, uids = self._find(client, folder, ident)
            if folder == self._quarantine:
                q_validity, already = validity, uids
            elif uids:
                found.append((folder, uids))
        if not found:
            if not already:
                return QuarantineOutcome(RemovalResult.NOT_FOUND)
            # Removed earlier: report where it sits, move nothing.
            return QuarantineOutcome(RemovalResult.REMOVED, moved=tuple(
                Moved(UNKNOWN_ORIGIN, self._quarantine, f"{q_validity}:{u}") for u in already))
        if dry_run:
            return QuarantineOutcome(RemovalResult.SHADOW)
        if self._quarantine not in folders:
            with contextlib.suppress(imap_exc.IMAPClientError):
                client.create_folder(self._quarantine)  # a racing create is fine
        moved: list[Moved] = []
        unmapped: list[str] = []
        for folder, uids in found:
            select(client, folder, readonly=False)
            validity, mapping = self._move(client, uids, self._quarantine)
            for uid in uids:
                if uid in mapping:
                    moved.append(Moved(folder, self._quarantine, f"{validity}:{mapping[uid]}"))
                else:
                    unmapped.append(folder)
        if unmapped:
            # No COPYUID (no UIDPLUS): find the new copies by Message-ID instead.
            validity, uids = self._find(client, self._quarantine, ident)
            taken = set(already) | {int(m.new_ref.split(":")[1]) for m in moved}
            fresh = [u for u in uids if u not in taken]
            for folder, uid in zip(unmapped, fresh, strict=False):
                moved.append(Moved(folder, self._quarantine, f"{validity}:{uid}"))
        return QuarantineOutcome(RemovalResult.REMOVED, moved=tuple(moved))

    def _move(self, client: imapclient.IMAPClient, uids: list[int], dest: str,
              ) -> tuple[int, dict[int, int]]:
        """Move uids out of the selected folder; (dest uidvalidity, old uid -> new uid)."""
        client._imap.untagged_responses.pop("COPYUID", None)
        if client.has_capability("MOVE"):
            client.move(uids, dest)
        else:
            client.copy(uids, dest)
            client.add_flags(uids, [imapclient.DELETED], silent=True)
            if client.has_capability("UIDPLUS"):
                client.uid_expunge(uids)
            # Without UIDPLUS a plain EXPUNGE would also purge the user's own \Deleted
            # mail: leave the copy flagged \Deleted (a soft delete) instead.
        codes = client._imap.untagged_responses.pop("COPYUID", [])
        return parse_copyuid(codes)

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
        if not uids and message_id and msgid_core(message_id):
            core = msgid_core(message_id)
            hits = client.search(["HEADER", "Message-ID", core],
                                 charset=None if core.isascii() else "UTF-8")
            if hits:
                data = client.fetch(sorted(hits), [header_fetch_item()])
                uids = [u for u in sorted(hits) if u in data
                        and msgid_equal(parse_headers(data[u]).get("Message-ID"), message_id)]
        if not uids:
            return RestoreResult.NOT_FOUND
        if not client.folder_exists(moved.original_folder):
            client.create_folder(moved.original_folder)
        self._move(client, uids, moved.original_folder)
        return RestoreResult.RESTORED


__all__ = ["ImapError", "ImapMailboxBackend"]
