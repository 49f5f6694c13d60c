"""Quarantine and restore in Exchange Online mailboxes over Microsoft Graph.

Find: GET /users/{id}/messages?$filter=internetMessageId eq '…' (every folder of the
mailbox), with the internet headers so that From, Subject and Date are confirmed
before anything moves. Move: POST …/messages/{id}/move into a hidden folder created
once per mailbox (isHidden: the user does not see it in Outlook), or into
recoverableitemsdeletions by config; several copies in one mailbox go in one $batch.
Immutable ids (Prefer header) mean the id recorded at removal still names the copy at
restore time, whatever folder it sits in.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any
from urllib.parse import quote

from service.collectors.base import (
    MessageIdentity,
    Moved,
    QuarantineOutcome,
    RemovalResult,
    RestoreResult,
)
from service.collectors.ews_mailbox import bracketed
from service.collectors.graph_client import (
    GraphClient,
    GraphError,
    GraphResponse,
    GraphSettings,
    odata_string,
    user_path,
)
from service.collectors.mailbox_common import after_move, refused
from service.collectors.maildir_match import HeaderMatcher

log = logging.getLogger(__name__)

_ADDRESS_RE = re.compile(r"[^@\s<>\"'/\\?#%\x00-\x1f\x7f]{1,64}@[A-Za-z0-9.-]{1,253}")
RECOVERABLE = "recoverableitemsdeletions"
_NO_MAILBOX = ("ErrorInvalidUser", "MailboxNotEnabledForRESTAPI", "ResourceNotFound",
               "ErrorNonExistentMailbox")
_GONE = ("ErrorItemNotFound", "ErrorInvalidIdMalformed")


class GraphMailboxBackend:
    """MailboxBackend over Microsoft Graph (application permission Mail.ReadWrite)."""

    name = "graph"

    def __init__(self, settings: GraphSettings, quarantine_folder: str = "Quarantine",
                 mode: str = "hidden_folder", client: GraphClient | None = None) -> None:
        if mode not in ("hidden_folder", RECOVERABLE):
            raise ValueError(f"graph quarantine mode {mode!r}: hidden_folder or {RECOVERABLE}")
        self.client = client or GraphClient(settings)
        self.quarantine_name = quarantine_folder
        self.mode = mode
        self._qids: dict[str, str] = {}
        self._qlocks: dict[str, asyncio.Lock] = {}
        self._lookups: dict[str, asyncio.Future[str | None]] = {}

    async def check(self) -> None:
        await self.client.token(force=True)

    async def close(self) -> None:
        await self.client.close()

    async def quarantine(self, mailbox: str, ident: MessageIdentity, *,
                         dry_run: bool = False) -> QuarantineOutcome:
        address = mailbox.strip()
        refusal = refused(address, ident, _ADDRESS_RE)
        if refusal is not None:
            return refusal
        try:
            return await self._quarantine(address, ident, dry_run)
        except GraphError as exc:
            if exc.code in _NO_MAILBOX:
                return QuarantineOutcome(RemovalResult.NOT_FOUND, reason="no such mailbox")
            return QuarantineOutcome(RemovalResult.FAILED, reason=str(exc))

    async def restore(self, mailbox: str, moved: Moved) -> RestoreResult:
        base = user_path(mailbox)
        try:
            for dest in (moved.original_folder, "inbox"):
                resp = await self.client.request(
                    "POST", mailbox, f"{base}/messages/{_seg(moved.new_ref)}/move",
                    body={"destinationId": dest})
                if resp.status in (200, 201):
                    return RestoreResult.RESTORED
                if resp.code in _GONE and dest == moved.original_folder:
                    # Either the copy or its old folder is gone: is the copy still there?
                    probe = await self.client.request(
                        "GET", mailbox, f"{base}/messages/{_seg(moved.new_ref)}",
                        params={"$select": "id"})
                    if probe.status == 404:
                        return RestoreResult.NOT_FOUND
                    continue  # the folder was deleted since: put it in the inbox
                if resp.code in _NO_MAILBOX or resp.code in _GONE:
                    return RestoreResult.NOT_FOUND
                log.warning("Graph restore: HTTP %d %s", resp.status, resp.code)
                return RestoreResult.FAILED
        except GraphError as exc:
            log.warning("Graph restore failed: %s", exc)
            return RestoreResult.FAILED
        return RestoreResult.FAILED

    async def _quarantine(self, address: str, ident: MessageIdentity,
                          dry_run: bool) -> QuarantineOutcome:
        base = user_path(address)
        # The quarantine folder is looked up beside the search, not after it (one shared
        # lookup per mailbox): the first removal is on the critical path of all others.
        lookup = self._lookup(address)
        resp = await self.client.request("GET", address, f"{base}/messages", params={
            "$filter": f"internetMessageId eq {odata_string(bracketed(ident.message_id))}",
            "$select": "id,parentFolderId,internetMessageHeaders", "$top": "50"})
        if lookup is not None:
            await asyncio.shield(lookup)
        _raise_for(resp, "list messages")
        matcher = HeaderMatcher(ident)
        hits = [m for m in resp.body.get("value", [])
                if isinstance(m, dict) and matcher.matches(_header_block(m))]
        if not hits:
            return QuarantineOutcome(RemovalResult.NOT_FOUND)
        qid = await self._quarantine_id(address, create=not dry_run)
        already = tuple(Moved("inbox", qid or "", str(m["id"])) for m in hits
                        if qid and m.get("parentFolderId") == qid)
        todo = [m for m in hits if not qid or m.get("parentFolderId") != qid]
        if not todo:
            return QuarantineOutcome(RemovalResult.REMOVED, moved=already)
        if dry_run:
            return QuarantineOutcome(RemovalResult.SHADOW, moved=tuple(
                Moved(str(m.get("parentFolderId", "")), self.quarantine_name, str(m["id"]))
                for m in todo))
        assert qid is not None
        answers = await self._move(address, [str(m["id"]) for m in todo], qid)
        moved = list(already)
        errors = []
        for msg, ans in zip(todo, answers, strict=True):
            if ans.status in (200, 201) and isinstance(ans.body, dict) and ans.body.get("id"):
                moved.append(Moved(str(msg.get("parentFolderId", "")), qid, str(ans.body["id"])))
            elif ans.code not in _GONE:
                errors.append(f"HTTP {ans.status} {ans.code}".strip())
        return after_move(moved, errors, "move: ")

    async def _move(self, address: str, ids: list[str], dest: str) -> list[GraphResponse]:
        base = user_path(address)
        if len(ids) == 1:
            return [await self.client.request("POST", address, f"{base}/messages/"
                                              f"{_seg(ids[0])}/move", body={"destinationId": dest})]
        out: list[GraphResponse] = []
        for start in range(0, len(ids), 20):
            out += await self.client.batch(address, [
                {"method": "POST", "url": f"{base}/messages/{_seg(i)}/move",
                 "body": {"destinationId": dest}} for i in ids[start:start + 20]])
        return out

    def _lookup(self, address: str) -> asyncio.Future[str | None] | None:
        key = address.lower()
        if key in self._qids:
            return None
        task = self._lookups.get(key)
        if task is None or (task.done() and (task.cancelled() or task.exception())):
            task = self._lookups[key] = asyncio.ensure_future(
                self._find_or_create(address, create=False))
        return task

    async def _quarantine_id(self, address: str, *, create: bool) -> str | None:
        key = address.lower()
        if key in self._qids:
            return self._qids[key]
        async with self._qlocks.setdefault(key, asyncio.Lock()):
            if key in self._qids:
                return self._qids[key]
            lookup = self._lookup(address)
            qid = await asyncio.shield(lookup) if lookup is not None else None
            if qid is None and create:
                qid = await self._find_or_create(address, create=True, looked=lookup is not None)
            if qid:
                self._qids[key] = qid
                self._lookups.pop(key, None)
            return qid

    async def _find_or_create(self, address: str, create: bool,
                              looked: bool = False) -> str | None:
        base = user_path(address)
        if self.mode == RECOVERABLE:
            resp = await self.client.request("GET", address, f"{base}/mailFolders/{RECOVERABLE}",
                                             params={"$select": "id"})
            _raise_for(resp, "get recoverableitemsdeletions")
            return str(resp.body["id"])
        for attempt in range(2):
            if not (looked and attempt == 0):  # the caller just saw it missing
                resp = await self.client.request("GET", address, f"{base}/mailFolders", params={
                    "$filter": f"displayName eq {odata_string(self.quarantine_name)}",
                    "includeHiddenFolders": "true", "$select": "id,displayName,isHidden"})
                _raise_for(resp, "list mail folders")
                found = [f for f in resp.body.get("value", []) if isinstance(f, dict)]
                if found:
                    return str(found[0]["id"])
            if not create:
                return None
            made = await self.client.request("POST", address, f"{base}/mailFolders", body={
                "displayName": self.quarantine_name, "isHidden": True})
            if made.status == 201 and isinstance(made.body, dict):
                return str(made.body["id"])
            if made.code != "ErrorFolderExists":  # else: made meanwhile, look again
                _raise_for(made, "create quarantine folder")
        raise GraphError("quarantine folder neither found nor created")


def _seg(value: str) -> str:
    return quote(value, safe="")


def _raise_for(resp: GraphResponse, what: str) -> None:
    if resp.status >= 300 or not isinstance(resp.body, dict):
        raise GraphError(f"Graph {what}: HTTP {resp.status} {resp.code}".strip(),
                         resp.status, resp.code)


def _header_block(msg: dict[str, Any]) -> bytes:
    lines = []
    for h in msg.get("internetMessageHeaders") or []:
        if isinstance(h, dict) and isinstance(h.get("name"), str):
            value = str(h.get("value", "")).replace("\r", " ").replace("\n", " ")
            lines.append(f"{h['name']}: {value}")
    return "\r\n".join(lines).encode("utf-8", "replace")
