"""Intake from an Exchange Online copy mailbox over Graph delta query (no journaling needed).

For tenants without a journal: a transport rule copies every message into one
mailbox, and this collector follows that mailbox's folder with
`…/mailFolders/{id}/messages/delta`, fetching each new message's raw MIME from
`…/messages/{id}/$value`. The checkpoint is the link to resume from (the page's
@odata.nextLink, then the round's @odata.deltaLink), saved only after every message
of the page is enqueued.

A copy is not a journal report: recipients come from the To/Cc headers, and Bcc
recipients are lost this way. Use journaling (SMTP or EWS intake) where Bcc matters.
"""

from __future__ import annotations

import asyncio
import logging
import time

from service.collectors.base import Enqueue
from service.collectors.graph_client import GraphClient, GraphError, GraphSettings, user_path
from service.collectors.journal_loop import run_with_backoff, wait_or_stop
from service.state.base import QueueItem, Store

log = logging.getLogger(__name__)


class GraphDeltaCollector:
    """JournalCollector over one mail folder of a copy mailbox."""

    def __init__(self, name: str, settings: GraphSettings, mailbox: str, store: Store, *,
                 folder: str = "inbox", sync_interval_s: float = 1.0,
                 max_bytes: int = 64 * 1024 * 1024, client: GraphClient | None = None) -> None:
        self.name = name
        self.client = client or GraphClient(settings)
        self.mailbox = mailbox
        self.folder = "inbox" if folder.upper() == "INBOX" else folder
        self._store = store
        self._interval = sync_interval_s
        self._max_bytes = max_bytes

    def _start_link(self) -> str:
        return (f"{self.client.settings.graph_url}{user_path(self.mailbox)}/mailFolders/"
                f"{self.folder}/messages/delta?$select=id")

    async def check(self) -> None:
        try:
            resp = await self.client.request(
                "GET", self.mailbox,
                f"{user_path(self.mailbox)}/mailFolders/{self.folder}", params={"$select": "id"})
            if resp.status != 200:
                raise GraphError(f"Graph mailbox {self.mailbox} folder {self.folder}: "
                                 f"HTTP {resp.status} {resp.code}", resp.status, resp.code)
        finally:
            await self.client.close()

    async def run(self, enqueue: Enqueue, stop: asyncio.Event) -> None:
        try:
            await run_with_backoff(self.name, lambda: self._follow(enqueue, stop), stop, log,
                                   clear_errors=GraphError)
        finally:
            await self.client.close()

    async def _follow(self, enqueue: Enqueue, stop: asyncio.Event) -> None:
        link = await self._store.get_checkpoint(self.name) or self._start_link()
        while not stop.is_set():
            resp = await self.client.request("GET", self.mailbox, "", url=link)
            if resp.status == 410 or resp.code in ("SyncStateNotFound", "SyncStateInvalid"):
                # The service dropped the delta state: start a new round (replays; dedup).
                log.warning("collector %s: delta state expired; starting over", self.name)
                link = self._start_link()
                continue
            if resp.status != 200 or not isinstance(resp.body, dict):
                raise GraphError(f"Graph delta: HTTP {resp.status} {resp.code}", resp.status,
                                 resp.code)
            for entry in resp.body.get("value", []):
                if not isinstance(entry, dict) or "@removed" in entry or not entry.get("id"):
                    continue
                await self._take(str(entry["id"]), enqueue)
            following = resp.body.get("@odata.nextLink") or resp.body.get("@odata.deltaLink")
            if not isinstance(following, str):
                raise GraphError("Graph delta: a page without nextLink or deltaLink")
            await asyncio.shield(self._store.set_checkpoint(self.name, following))
            link = following
            if "@odata.deltaLink" in resp.body:
                await wait_or_stop(stop, self._interval)

    async def _take(self, message_id: str, enqueue: Enqueue) -> None:
        from urllib.parse import quote

        resp = await self.client.request(
            "GET", self.mailbox,
            f"{user_path(self.mailbox)}/messages/{quote(message_id, safe='')}/$value", raw=True)
        if resp.status == 404:
            return  # deleted since the delta page: nothing to scan
        if resp.status != 200 or not isinstance(resp.body, bytes):
            raise GraphError(f"Graph $value: HTTP {resp.status} {resp.code}", resp.status,
                             resp.code)
        if len(resp.body) > self._max_bytes:
            log.warning("collector %s: message of %d bytes over the limit; skipped",
                        self.name, len(resp.body))
            return
        await enqueue(QueueItem(collector=self.name, raw=resp.body, received_at=time.time(),
                                ref=message_id))

