"""Journal intake from an Exchange Server journal mailbox over EWS SyncFolderItems.

One SyncFolderItems call returns at most 512 changes and a new sync state. Every
created item of the page is fetched as MIME (GetItem) and enqueued, and only when the
whole page is enqueued is the sync state saved as the checkpoint: a crash mid-page
replays that page (at-least-once; the pipeline dedups), never skips one.

Between pages with nothing new the collector waits sync_interval_s. EWS pull or
streaming notifications would only shorten that wait (the sync state stays the source
of truth); they are not used yet, so a quiet mailbox is polled.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from exchangelib.items import ID_ONLY  # type: ignore[import-untyped]
from exchangelib.services import SyncFolderItems  # type: ignore[import-untyped]

from service.collectors.base import Enqueue
from service.collectors.ews_common import EwsError, EwsPool, EwsSettings
from service.collectors.journal_loop import run_with_backoff, wait_or_stop
from service.state.base import QueueItem, Store

log = logging.getLogger(__name__)

MAX_CHANGES = 512  # the most SyncFolderItems returns in one call
FETCH_CHUNK = 32  # items per GetItem: bounds the size of one MIME response


@dataclass(frozen=True, slots=True)
class _Page:
    state: str
    last: bool
    ids: tuple[tuple[str, str], ...]  # (item id, change key) of created items, in order


class EwsJournalCollector:
    """JournalCollector over one EWS folder (by default the journal mailbox's inbox)."""

    def __init__(self, name: str, settings: EwsSettings, mailbox: str, store: Store, *,
                 folder: str = "inbox", sync_interval_s: float = 1.0,
                 max_bytes: int = 64 * 1024 * 1024) -> None:
        self.name = name
        self._pool = EwsPool(settings)
        self._mailbox = mailbox
        self._folder_name = folder
        self._store = store
        self._interval = sync_interval_s
        self._max_bytes = max_bytes
        self._folder: Any = None

    async def check(self) -> None:
        try:
            await self._pool.run(self._resolve_folder)
        finally:
            self._folder = None
            self._pool.close()

    async def close(self) -> None:
        self._pool.close()

    async def run(self, enqueue: Enqueue, stop: asyncio.Event) -> None:
        def forget_folder() -> None:
            self._folder = None

        try:
            await run_with_backoff(self.name, lambda: self._sync(enqueue, stop), stop, log,
                                   clear_errors=EwsError, on_error=forget_folder)
        finally:
            self._pool.close()

    async def _sync(self, enqueue: Enqueue, stop: asyncio.Event) -> None:
        if self._folder is None:
            await self._pool.run(self._resolve_folder)
        state = await self._store.get_checkpoint(self.name)
        while not stop.is_set():
            page = await self._pool.run(self._sync_page, state)
            for start in range(0, len(page.ids), FETCH_CHUNK):
                chunk = page.ids[start:start + FETCH_CHUNK]
                for ref, raw in await self._pool.run(self._fetch, chunk):
                    await enqueue(QueueItem(collector=self.name, raw=raw,
                                            received_at=time.time(), ref=ref))
            if page.state and page.state != state:
                # The whole page is durable: only now may the sync state move.
                await asyncio.shield(self._store.set_checkpoint(self.name, page.state))
                state = page.state
            if page.last:
                await wait_or_stop(stop, self._interval)

    # -- blocking parts ------------------------------------------------------------------

    def _resolve_folder(self) -> None:
        acct = self._pool.account(self._mailbox)
        name = self._folder_name
        if name.lower() in ("inbox", ""):
            self._folder = acct.inbox
            return
        root = acct.msg_folder_root
        for child in root.children:
            if (child.name or "").lower() == name.lower():
                self._folder = child
                return
        raise EwsError(f"EWS {self._pool.settings.service_endpoint}: journal folder "
                       f"{name!r} not found in {self._mailbox}")

    def _sync_page(self, state: str | None) -> _Page:
        svc = SyncFolderItems(account=self._pool.account(self._mailbox))
        changes = list(svc.call(folder=self._folder, shape=ID_ONLY, additional_fields=set(),
                                sync_state=state, ignore=None,
                                max_changes_returned=MAX_CHANGES, sync_scope=None))
        ids = []
        for change in changes:
            if isinstance(change, Exception):
                raise change
            kind, item = change
            if kind == "create" and getattr(item, "id", None):
                ids.append((str(item.id), str(item.changekey or "")))
        return _Page(state=str(svc.sync_state or ""), last=bool(svc.includes_last_item_in_range),
                     ids=tuple(ids))

    def _fetch(self, ids: tuple[tuple[str, str], ...]) -> list[tuple[str, bytes]]:
        acct = self._pool.account(self._mailbox)
        out = []
        for (item_id, _), item in zip(ids, acct.fetch(ids=list(ids),
                                                       only_fields=["mime_content"]),
                                      strict=False):
            if isinstance(item, Exception) or not item.mime_content:
                # Deleted since the sync: nothing to enqueue, and nothing lost either.
                log.info("collector %s: item gone before fetch (%s)", self.name,
                         type(item).__name__)
                continue
            raw = bytes(item.mime_content)
            if len(raw) > self._max_bytes:
                log.warning("collector %s: journal item of %d bytes over the limit; skipped",
                            self.name, len(raw))
                continue
            out.append((item_id, raw))
        return out

