"""Quarantine and restore in Exchange Server mailboxes over EWS (exchangelib, impersonation).

EWS searches only the folders it is given, so each call walks the mailbox's IPF.Note
folders under "Top of Information Store" (one deep FindFolder), asks one FindItem with
an InternetMessageId restriction across all of them, confirms each hit's headers
(From, Subject, Date: a forged journal report must not pull legitimate mail), and
moves the hits with one MoveItem into a quarantine folder created once per mailbox.

MoveItem returns the copy's new ItemId; that id and the original folder's id are what
restore needs. soft_delete / move_to_trash return no id, which is why they are not used.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from exchangelib import Folder, FolderCollection  # type: ignore[import-untyped]
from exchangelib.errors import (  # type: ignore[import-untyped]
    ErrorFolderExists,
    ErrorFolderNotFound,
    ErrorInvalidIdMalformed,
    ErrorItemNotFound,
    ErrorNonExistentMailbox,
)
from exchangelib.folders import DEEP  # type: ignore[import-untyped]
from exchangelib.properties import FolderId  # type: ignore[import-untyped]

from service.collectors.base import (
    MessageIdentity,
    Moved,
    QuarantineOutcome,
    RemovalResult,
    RestoreResult,
)
from service.collectors.ews_common import EwsError, EwsPool, EwsSettings
from service.collectors.mailbox_common import after_move, refused
from service.collectors.maildir_match import HeaderMatcher

log = logging.getLogger(__name__)

_ADDRESS_RE = re.compile(r"[^@\s<>\"\x00-\x1f\x7f]{1,64}@[A-Za-z0-9.-]{1,253}")
INBOX = "inbox"  # original folder of a copy found already in quarantine: origin unknown
_MAIL_CLASSES = ("IPF.Note", "IPF.Imap")


def header_block(mime: bytes) -> bytes:
    for sep in (b"\r\n\r\n", b"\n\n"):
        head, found, _ = mime.partition(sep)
        if found:
            return head
    return mime


def bracketed(message_id: str) -> str:
    """Exchange stores InternetMessageId with its angle brackets; compare it that way."""
    mid = message_id.strip()
    return mid if mid.startswith("<") else f"<{mid}>"


class EwsMailboxBackend:
    """MailboxBackend over EWS; every exchangelib call runs in the pool's bounded threads."""

    name = "ews"

    def __init__(self, settings: EwsSettings, quarantine_folder: str = "Quarantine",
                 check_mailbox: str | None = None) -> None:
        self._pool = EwsPool(settings)
        self.quarantine_name = quarantine_folder
        self._check_mailbox = check_mailbox or settings.username
        self._qids: dict[str, str] = {}  # mailbox -> quarantine folder id
        self._qlock = threading.Lock()

    async def check(self) -> None:
        await self._pool.run(self._check_sync)

    async def close(self) -> None:
        self._pool.close()

    async def quarantine(self, mailbox: str, ident: MessageIdentity, *,
                         dry_run: bool = False) -> QuarantineOutcome:
        address = mailbox.strip()
        refusal = refused(address, ident, _ADDRESS_RE)
        if refusal is not None:
            return refusal
        try:
            return await self._pool.run(self._quarantine_sync, address, ident, dry_run)
        except EwsError as exc:
            return QuarantineOutcome(RemovalResult.FAILED, reason=str(exc))

    async def restore(self, mailbox: str, moved: Moved) -> RestoreResult:
        try:
            return await self._pool.run(self._restore_sync, mailbox.strip(), moved)
        except EwsError as exc:
            log.warning("EWS restore failed: %s", exc)
            return RestoreResult.FAILED

    # -- blocking parts ------------------------------------------------------------------

    def _check_sync(self) -> None:
        if "@" not in self._check_mailbox:
            raise EwsError(f"EWS {self._pool.settings.service_endpoint}: set "
                           "mailboxes.check_mailbox to an address trawler check may open")
        acct = self._pool.account(self._check_mailbox)
        _ = acct.msg_folder_root  # one GetFolder: endpoint, credentials, impersonation right

    def _folders(self, acct: Any) -> tuple[Any, list[Any], Any | None]:
        root = acct.msg_folder_root
        found = list(FolderCollection(account=acct, folders=[root]).find_folders(depth=DEEP))
        for f in found:
            if isinstance(f, Exception):
                raise f
        quarantine = next((f for f in found if f.parent_folder_id is not None
                           and f.parent_folder_id.id == root.id
                           and (f.name or "").lower() == self.quarantine_name.lower()), None)
        mail = [f for f in found if (f.folder_class or "IPF.Note").startswith(_MAIL_CLASSES)
                and (quarantine is None or f.id != quarantine.id)]
        return root, mail, quarantine

    def _quarantine_sync(self, address: str, ident: MessageIdentity,
                         dry_run: bool) -> QuarantineOutcome:
        try:
            return self._quarantine_in(address, ident, dry_run)
        except ErrorNonExistentMailbox:
            return QuarantineOutcome(RemovalResult.NOT_FOUND, reason="no such mailbox")

    def _quarantine_in(self, address: str, ident: MessageIdentity,
                       dry_run: bool) -> QuarantineOutcome:
        acct = self._pool.account(address)
        root, mail, quarantine = self._folders(acct)
        search = [*mail, quarantine] if quarantine is not None else mail
        if not search:
            return QuarantineOutcome(RemovalResult.NOT_FOUND)
        hits = [h for h in FolderCollection(account=acct, folders=search)
                .filter(message_id=bracketed(ident.message_id))
                .only("id", "changekey", "parent_folder_id") if not isinstance(h, Exception)]
        confirmed = self._confirm(acct, hits, ident)
        qid = quarantine.id if quarantine is not None else None
        already = [Moved(INBOX, str(qid), h.id) for h in confirmed
                   if h.parent_folder_id is not None and h.parent_folder_id.id == qid]
        todo = [h for h in confirmed if h.parent_folder_id is None
                or h.parent_folder_id.id != qid]
        if dry_run:
            if todo:
                return QuarantineOutcome(RemovalResult.SHADOW, moved=tuple(
                    Moved(h.parent_folder_id.id, self.quarantine_name, h.id) for h in todo))
            result = RemovalResult.REMOVED if already else RemovalResult.NOT_FOUND
            return QuarantineOutcome(result, moved=tuple(already))
        if not todo:
            result = RemovalResult.REMOVED if already else RemovalResult.NOT_FOUND
            return QuarantineOutcome(result, moved=tuple(already))
        target = quarantine if quarantine is not None else self._create_quarantine(acct, root)
        moved = list(already)
        errors: list[str] = []
        results = list(acct.bulk_move(ids=[(h.id, h.changekey) for h in todo], to_folder=target))
        for hit, res in zip(todo, results, strict=False):
            if isinstance(res, ErrorItemNotFound):
                continue  # moved or deleted since FindItem: nothing left to pull
            if isinstance(res, Exception):
                errors.append(type(res).__name__)
                continue
            moved.append(Moved(hit.parent_folder_id.id, target.id, res[0]))
        return after_move(moved, errors, "MoveItem: ")

    def _confirm(self, acct: Any, hits: list[Any], ident: MessageIdentity) -> list[Any]:
        if not hits:
            return []
        matcher = HeaderMatcher(ident)
        fetched = acct.fetch(ids=[(h.id, h.changekey) for h in hits],
                             only_fields=["mime_content"])
        out = []
        for hit, item in zip(hits, fetched, strict=False):
            if isinstance(item, Exception) or not item.mime_content:
                continue
            if matcher.matches(header_block(bytes(item.mime_content))):
                out.append(hit)
        return out

    def _create_quarantine(self, acct: Any, root: Any) -> Any:
        with self._qlock:
            folder = Folder(parent=root, name=self.quarantine_name, folder_class="IPF.Note")
            try:
                folder.save()
            except ErrorFolderExists:
                # Another thread or run made it first: use theirs.
                _, _, existing = self._folders(acct)
                if existing is None:
                    raise
                return existing
            return folder

    def _restore_sync(self, address: str, moved: Moved) -> RestoreResult:
        try:
            return self._restore_in(address, moved)
        except ErrorNonExistentMailbox:
            return RestoreResult.NOT_FOUND

    def _restore_in(self, address: str, moved: Moved) -> RestoreResult:
        acct = self._pool.account(address)
        target = (acct.inbox if moved.original_folder == INBOX
                  else FolderId(id=moved.original_folder))
        for attempt in range(2):
            try:
                [res] = list(acct.bulk_move(ids=[(moved.new_ref, None)], to_folder=target))
            except (ErrorItemNotFound, ErrorInvalidIdMalformed):
                return RestoreResult.NOT_FOUND
            if isinstance(res, ErrorFolderNotFound) and attempt == 0:
                target = acct.inbox  # the user deleted the folder since: put it in the inbox
                continue
            if isinstance(res, (ErrorItemNotFound, ErrorInvalidIdMalformed)):
                return RestoreResult.NOT_FOUND
            if isinstance(res, Exception):
                log.warning("EWS restore: %s", type(res).__name__)
                return RestoreResult.FAILED
            return RestoreResult.RESTORED
        return RestoreResult.FAILED
