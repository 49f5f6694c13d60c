"""A local Microsoft Graph (Outlook mail) and Entra ID token endpoint for tests and the bench.

Speaks the real wire protocol: OAuth2 client-credentials form posts, OData JSON with
`value` arrays, `@odata.nextLink` / `@odata.deltaLink`, JSON batching, and throttling.
The Microsoft page each shape follows:

- token: https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow
  (200 {token_type, expires_in, access_token}; 401 {error: invalid_client, error_description
  "AADSTS7000215: Invalid client secret provided..."}; 400 AADSTS90002 for an unknown tenant)
- errors {error: {code, message}}, expired token 401 InvalidAuthenticationToken:
  https://learn.microsoft.com/en-us/graph/errors
- list messages with $filter / $select / $top: https://learn.microsoft.com/en-us/graph/api/user-list-messages
  (internetMessageHeaders: https://learn.microsoft.com/en-us/graph/api/resources/message)
- move (201 with the message, new id unless immutable): https://learn.microsoft.com/en-us/graph/api/message-move
- mail folders, isHidden, includeHiddenFolders=true, 409 ErrorFolderExists:
  https://learn.microsoft.com/en-us/graph/api/user-post-mailfolders and
  https://learn.microsoft.com/en-us/graph/api/user-list-mailfolders ; well-known names
  (inbox, recoverableitemsdeletions): https://learn.microsoft.com/en-us/graph/api/resources/mailfolder
- delta (nextLink pages, then a deltaLink; "@removed" entries):
  https://learn.microsoft.com/en-us/graph/delta-query-messages
- raw MIME: https://learn.microsoft.com/en-us/graph/outlook-get-mime-message (GET …/$value)
- $batch (≤ 20 requests, dependsOn runs members in order, 424 Failed Dependency):
  https://learn.microsoft.com/en-us/graph/json-batching
- throttling (429, Retry-After, 4 concurrent requests per mailbox, ApplicationThrottled
  "MailboxConcurrency"): https://learn.microsoft.com/en-us/graph/throttling and
  https://learn.microsoft.com/en-us/graph/throttling-limits#outlook-service-limits
- immutable ids via `Prefer: IdType="ImmutableId"`: https://learn.microsoft.com/en-us/graph/outlook-immutable-id
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import web

VERSION = "/v1.0"
WELL_KNOWN = ("inbox", "sentitems", "deleteditems", "junkemail", "archive",
              "recoverableitemsdeletions")
_FILTER_EQ = re.compile(r"^\s*(internetMessageId|displayName)\s+eq\s+'((?:[^']|'')*)'\s*$")


@dataclass
class Msg:
    immutable_id: str
    rest_id: str  # changes on every move, as Outlook's regular ids do
    folder: str
    mime: bytes
    headers: list[dict[str, str]]
    message_id: str
    seq: int


@dataclass
class Mailbox:
    address: str
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, Msg] = field(default_factory=dict)  # by immutable id


class Reply(Exception):
    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def _err(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}}, headers)


class GraphServer:
    def __init__(self, *, tenant: str = "tenant-1", client_id: str = "app-1",
                 client_secret: str = "secret-1", token_lifetime_s: int = 3599,
                 service_time_s: float = 0.0, mailbox_concurrency: int = 4,
                 retry_after_s: int = 1, delta_page_size: int = 10) -> None:
        self.tenant, self.client_id, self.client_secret = tenant, client_id, client_secret
        self.token_lifetime_s = token_lifetime_s
        self.service_time_s = service_time_s  # how long each mailbox request holds its slot
        self.mailbox_concurrency = mailbox_concurrency
        self.retry_after_s = retry_after_s
        self.delta_page_size = delta_page_size
        self.mailboxes: dict[str, Mailbox] = {}
        self.tokens: dict[str, float] = {}  # token -> expiry (unix time)
        self.inflight: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.stats = {"requests": 0, "throttled": 0, "expired_token": 0, "tokens": 0,
                      "batches": 0}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.base = ""

    # -- test-side helpers ---------------------------------------------------------------

    @property
    def graph_url(self) -> str:
        return self.base + VERSION

    def mailbox(self, address: str) -> Mailbox:
        key = address.lower()
        box = self.mailboxes.get(key)
        if box is None:
            box = self.mailboxes[key] = Mailbox(key)
            for name in WELL_KNOWN:
                fid = f"AAMkF{next(self._ids):06d}"
                box.folders[fid] = {"id": fid, "displayName": name.title(), "isHidden": False,
                                    "wellKnownName": name, "parentFolderId": "root"}
        return box

    def deliver(self, address: str, raw: bytes, folder: str = "inbox") -> str:
        box = self.mailbox(address)
        fid = self._folder(box, folder)["id"]
        parsed = BytesHeaderParser(policy=compat32).parsebytes(raw)
        headers = [{"name": k, "value": str(v)} for k, v in parsed.items()]
        n = next(self._ids)
        msg = Msg(f"AAkALgImm{n:06d}", f"AAMkRest{n:06d}", fid, raw, headers,
                  str(parsed.get("Message-ID", "")).strip(), n)
        box.messages[msg.immutable_id] = msg
        return msg.immutable_id

    def where(self, address: str) -> dict[str, list[str]]:
        """Folder display name -> Message-IDs there."""
        box = self.mailbox(address)
        out: dict[str, list[str]] = {}
        for m in box.messages.values():
            out.setdefault(box.folders[m.folder]["displayName"], []).append(m.message_id)
        return out

    def expire_tokens(self) -> None:
        for tok in self.tokens:
            self.tokens[tok] = 0.0

    # -- HTTP ----------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application()
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        app.router.add_route("*", VERSION + "/{tail:.*}", self._graph)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.base = f"http://{host}:{self._runner.addresses[0][1]}"
        return self.base

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if request.match_info["tenant"] != self.tenant:
            return web.json_response({"error": "invalid_request", "error_description":
                                      "AADSTS90002: Tenant not found."}, status=400)
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        if form.get("client_id") != self.client_id:
            return web.json_response({"error": "unauthorized_client", "error_description":
                                      "AADSTS700016: Application not found in the directory."},
                                     status=400)
        if form.get("client_secret") != self.client_secret:
            return web.json_response({"error": "invalid_client", "error_description":
                                      "AADSTS7000215: Invalid client secret provided."},
                                     status=401)
        token = secrets.token_urlsafe(24)
        self.tokens[token] = time.time() + self.token_lifetime_s
        self.stats["tokens"] += 1
        return web.json_response({"token_type": "Bearer", "expires_in": self.token_lifetime_s,
                                  "ext_expires_in": self.token_lifetime_s,
                                  "access_token": token})

    async def _graph(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        if self.tokens.get(token, 0.0) <= time.time():
            self.stats["expired_token"] += token in self.tokens
            return web.json_response({"error": {
                "code": "InvalidAuthenticationToken",
                "message": "Access token has expired or is not yet valid."}}, status=401)
        body = await request.read()
        path = request.path[len(VERSION):]
        query = {k: v[0] for k, v in parse_qs(request.query_string).items()}
        reply = await self.dispatch(request.method, path, query,
                                    json.loads(body) if body else None, request.headers)
        if isinstance(reply.body, bytes):
            return web.Response(status=reply.status, body=reply.body, headers=reply.headers,
                                content_type="message/rfc822")
        return web.json_response(reply.body, status=reply.status, headers=reply.headers)

    async def dispatch(self, method: str, path: str, query: dict[str, str], body: Any,
                       headers: Any) -> Reply:
        if path == "/$batch" and method == "POST":
            return await self._batch(body, headers)
        parts = [p for p in path.split("/") if p]
        if len(parts) < 2 or parts[0] != "users":
            return _err(400, "BadRequest", f"unsupported path {path}")
        address = parts[1].lower()
        if address not in self.mailboxes:
            return _err(404, "ErrorInvalidUser", f"The requested user '{address}' is invalid.")
        self.stats["requests"] += 1
        # Graph throttling for Outlook: 4 concurrent requests per app per mailbox.
        if self.inflight.get(address, 0) >= self.mailbox_concurrency:
            self.stats["throttled"] += 1
            return _err(429, "ApplicationThrottled",
                        "Application is over its MailboxConcurrency limit.",
                        {"Retry-After": str(self.retry_after_s)})
        self.inflight[address] = self.inflight.get(address, 0) + 1
        self.peak[address] = max(self.peak.get(address, 0), self.inflight[address])
        try:
            if self.service_time_s:
                await asyncio.sleep(self.service_time_s)
            immutable = 'idtype="immutableid"' in str(headers.get("Prefer", "")).lower()
            return self._route(self.mailboxes[address], method, parts[2:], query, body,
                               immutable)
        except Reply as reply:
            return reply
        finally:
            self.inflight[address] -= 1

    async def _batch(self, body: Any, headers: Any) -> Reply:
        members = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(members, list) or not 1 <= len(members) <= 20:
            return _err(400, "BadRequest", "A batch holds between 1 and 20 requests.")
        self.stats["batches"] += 1
        done: dict[str, asyncio.Task[Reply]] = {}

        async def run(m: dict[str, Any]) -> Reply:
            for dep in m.get("dependsOn") or []:
                if dep in done and (await done[dep]).status >= 400:
                    return _err(424, "FailedDependency", "a dependency failed")
            url = urlsplit(str(m.get("url", "")))
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            return await self.dispatch(str(m.get("method", "GET")), url.path, q,
                                       m.get("body"), {**dict(headers), **(m.get("headers") or {})})

        for m in members:
            done[str(m.get("id"))] = asyncio.ensure_future(run(m))
        responses = []
        for mid, task in done.items():
            r = await task
            responses.append({"id": mid, "status": r.status, "headers": r.headers,
                              "body": r.body if not isinstance(r.body, bytes) else None})
        return Reply(200, {"responses": responses})

    # -- resources -----------------------------------------------------------------------

    def _route(self, box: Mailbox, method: str, parts: list[str], query: dict[str, str],
               body: Any, immutable: bool) -> Reply:
        if parts == ["messages"] and method == "GET":
            return self._list_messages(box, query, immutable)
        if len(parts) == 2 and parts[0] == "messages" and method == "GET":
            return Reply(200, self._message_json(self._msg(box, parts[1]), box, immutable))
        if len(parts) == 3 and parts[0] == "messages" and parts[2] == "$value":
            return Reply(200, self._msg(box, parts[1]).mime)
        if len(parts) == 3 and parts[0] == "messages" and parts[2] == "move":
            return self._move(box, self._msg(box, parts[1]), body, immutable)
        if parts == ["mailFolders"] and method == "GET":
            return self._list_folders(box, query)
        if parts == ["mailFolders"] and method == "POST":
            return self._create_folder(box, body)
        if len(parts) == 2 and parts[0] == "mailFolders" and method == "GET":
            return Reply(200, self._folder_json(self._folder(box, parts[1])))
        if len(parts) == 4 and parts[0] == "mailFolders" and parts[2:] == ["messages", "delta"]:
            return self._delta(box, self._folder(box, parts[1]), query, immutable)
        raise _err(400, "BadRequest", f"unsupported {method} {'/'.join(parts)}")

    def _msg(self, box: Mailbox, ref: str) -> Msg:
        for m in box.messages.values():
            if ref in (m.immutable_id, m.rest_id):
                return m
        raise _err(404, "ErrorItemNotFound", "The specified object was not found in the store.")

    def _folder(self, box: Mailbox, ref: str) -> dict[str, Any]:
        for f in box.folders.values():
            if ref == f["id"] or ref.lower() == f.get("wellKnownName"):
                return f
        raise _err(404, "ErrorItemNotFound", "The specified object was not found in the store.")

    def _message_json(self, m: Msg, box: Mailbox, immutable: bool,
                      select: str | None = None) -> dict[str, Any]:
        full = {"id": m.immutable_id if immutable else m.rest_id, "parentFolderId": m.folder,
                "internetMessageId": m.message_id, "internetMessageHeaders": m.headers,
                "subject": next((h["value"] for h in m.headers
                                 if h["name"].lower() == "subject"), "")}
        if select:
            keep = {s.strip() for s in select.split(",")} | {"id"}
            full = {k: v for k, v in full.items() if k in keep}
        return {"@odata.etag": f'W/"{m.seq}"', **full}

    def _list_messages(self, box: Mailbox, query: dict[str, str], immutable: bool) -> Reply:
        wanted = _eq_filter(query.get("$filter"), "internetMessageId")
        found = [m for m in box.messages.values() if wanted is None or m.message_id == wanted]
        top = int(query.get("$top", "10"))
        return Reply(200, {"@odata.context": f"{self.graph_url}/$metadata#users('{box.address}')"
                                             "/messages",
                           "value": [self._message_json(m, box, immutable, query.get("$select"))
                                     for m in found[:top]]})

    def _move(self, box: Mailbox, m: Msg, body: Any, immutable: bool) -> Reply:
        dest = self._folder(box, str((body or {}).get("destinationId", "")))
        m.folder = dest["id"]
        m.rest_id = f"AAMkRest{next(self._ids):06d}"
        m.seq = next(self._ids)
        return Reply(201, self._message_json(m, box, immutable))

    def _folder_json(self, f: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in f.items() if k != "wellKnownName"}

    def _list_folders(self, box: Mailbox, query: dict[str, str]) -> Reply:
        name = _eq_filter(query.get("$filter"), "displayName")
        hidden = query.get("includeHiddenFolders", "").lower() == "true"
        found = [self._folder_json(f) for f in box.folders.values()
                 if (hidden or not f["isHidden"]) and (name is None or f["displayName"] == name)]
        return Reply(200, {"value": found})

    def _create_folder(self, box: Mailbox, body: Any) -> Reply:
        name = str((body or {}).get("displayName", ""))
        if not name:
            raise _err(400, "ErrorInvalidRequest", "displayName is required")
        if any(f["displayName"].lower() == name.lower() for f in box.folders.values()):
            raise _err(409, "ErrorFolderExists", "A folder with the specified name already "
                                                 "exists.")
        fid = f"AAMkF{next(self._ids):06d}"
        box.folders[fid] = {"id": fid, "displayName": name, "parentFolderId": "msgfolderroot",
                            "isHidden": bool((body or {}).get("isHidden", False))}
        return Reply(201, self._folder_json(box.folders[fid]))

    def _delta(self, box: Mailbox, folder: dict[str, Any], query: dict[str, str],
               immutable: bool) -> Reply:
        # $skiptoken: the next page of this round; $deltatoken: changes after that point.
        after = int(query.get("$skiptoken") or query.get("$deltatoken") or 0)
        pending = sorted((m for m in box.messages.values()
                          if m.folder == folder["id"] and m.seq > after), key=lambda m: m.seq)
        page = pending[:self.delta_page_size]
        link = f"{self.graph_url}/users/{box.address}/mailFolders/{folder['id']}/messages/delta"
        out: dict[str, Any] = {"value": [self._message_json(m, box, immutable, "id")
                                         for m in page]}
        last = page[-1].seq if page else after
        if len(pending) > len(page):
            out["@odata.nextLink"] = f"{link}?$skiptoken={last}"
        else:
            out["@odata.deltaLink"] = f"{link}?$deltatoken={last}"
        return Reply(200, out)


def _eq_filter(expr: str | None, prop: str) -> str | None:
    if not expr:
        return None
    match = _FILTER_EQ.match(expr)
    if not match or match.group(1) != prop:
        raise _err(400, "BadRequest", f"Invalid filter clause: {expr[:80]}")
    return match.group(2).replace("''", "'")


def main() -> None:
    """`python -m tests.servers.graph PORT SERVICE_S BOXES PER_BOX`: a filled server in its
    own process (the bench keeps server CPU off the client's core); stats on SIGTERM."""
    import signal
    import sys

    from tests.mailgen import phish

    port, service_s, boxes, per_box = (int(sys.argv[1]), float(sys.argv[2]),
                                       int(sys.argv[3]), int(sys.argv[4]))

    async def serve() -> None:
        server = GraphServer(service_time_s=service_s)
        for b in range(boxes):
            for n in range(per_box):
                server.deliver(f"user{b}@corp.example", phish(f"<p{n}@evil.test>"))
        await server.start(port=port)
        print("READY", flush=True)
        done = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, done.set)
        await done.wait()
        moved = sum(1 for box in server.mailboxes.values() for m in box.messages.values()
                    if box.folders[m.folder]["displayName"] == "Quarantine")
        print(json.dumps({**server.stats, "peak": max(server.peak.values(), default=0),
                          "in_quarantine": moved}), flush=True)
        await server.stop()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
