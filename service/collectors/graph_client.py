"""A small Microsoft Graph client on aiohttp: app token, per-mailbox limits, 429 handling.

Why no SDK: Trawler needs six calls (token, list with $filter, move, create folder,
delta, $value) plus $batch. msgraph-sdk pulls in kiota and azure-identity (dozens of
packages) and hides the two things this code must control exactly: the per-mailbox
concurrency cap and the Retry-After wait. Plain aiohttp is already a dependency.

- Token: client-credentials grant against <authority>/<tenant>/oauth2/v2.0/token,
  cached, refreshed before expiry, and once more on a 401 (a token revoked or expired
  early); concurrent callers share one refresh.
- Every call carries `Prefer: IdType="ImmutableId"` so that an id survives a move.
- At most `per_mailbox_concurrency` (Graph's Outlook limit: 4) requests in flight per
  mailbox, and a sliding budget under 10,000 requests per 10 minutes per mailbox.
- 429 / 503 / 504: wait Retry-After (or back off) and retry; never surfaced as failure
  unless the retries run out.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

log = logging.getLogger(__name__)

IMMUTABLE = 'IdType="ImmutableId"'
RETRY_STATUSES = (429, 503, 504)
BATCH_MAX = 20  # Graph JSON batching: at most 20 requests per $batch


class GraphError(Exception):
    """A Graph call failed; the message says which and why, never a token or secret."""

    def __init__(self, message: str, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class GraphAuthError(GraphError):
    """The token endpoint refused the app's credentials."""


@dataclass(frozen=True, slots=True)
class GraphSettings:
    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)
    authority_url: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    per_mailbox_concurrency: int = 4
    budget_requests: int = 9_500  # per mailbox per budget_window_s: under Graph's 10,000
    budget_window_s: float = 600.0
    timeout_s: float = 30.0
    max_retries: int = 10
    max_throttle_wait_s: float = 300.0  # total time one call may spend waiting out 429s
    refresh_margin_s: float = 300.0  # refresh this long before expiry

    @property
    def scope(self) -> str:
        parts = urlsplit(self.graph_url)
        return f"{parts.scheme}://{parts.netloc}/.default"


@dataclass(frozen=True, slots=True)
class GraphResponse:
    status: int
    body: Any  # parsed JSON, or bytes for raw content
    headers: dict[str, str]

    @property
    def code(self) -> str:
        if isinstance(self.body, dict):
            err = self.body.get("error")
            if isinstance(err, dict):
                return str(err.get("code", ""))
        return ""


def odata_string(value: str) -> str:
    """An OData string literal: single quotes doubled, then quoted."""
    return "'" + value.replace("'", "''") + "'"


def user_path(mailbox: str) -> str:
    return "/users/" + quote(mailbox.strip(), safe="@")


class GraphClient:
    def __init__(self, settings: GraphSettings) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._token = ""
        self._expires = 0.0
        self._token_lock = asyncio.Lock()
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._spent: dict[str, collections.deque[float]] = {}
        self.throttled = 0  # 429s seen: the bench reports it
        self.token_refreshes = 0

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout_s),
                connector=aiohttp.TCPConnector(limit=0))
        return self._session

    # -- token ---------------------------------------------------------------------------

    async def token(self, *, force: bool = False) -> str:
        if not force and self._token and time.time() < self._expires:
            return self._token
        stale = self._token
        async with self._token_lock:
            if self._token and self._token != stale and time.time() < self._expires:
                return self._token  # another caller refreshed while we waited
            if not force and self._token and time.time() < self._expires:
                return self._token
            await self._fetch_token()
            return self._token

    async def _fetch_token(self) -> None:
        s = self.settings
        url = f"{s.authority_url.rstrip('/')}/{quote(s.tenant_id, safe='')}/oauth2/v2.0/token"
        form = {"grant_type": "client_credentials", "client_id": s.client_id,
                "client_secret": s.client_secret, "scope": s.scope}
        try:
            async with self._http().post(url, data=form) as resp:
                text = await resp.text()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise GraphAuthError(f"Graph token endpoint {s.authority_url} unreachable: "
                                 f"{type(exc).__name__}: {exc}") from None
        try:
            data = json.loads(text)
        except ValueError:
            data = {}
        if status != 200 or not isinstance(data, dict) or "access_token" not in data:
            err = data.get("error", f"HTTP {status}") if isinstance(data, dict) else status
            desc = str(data.get("error_description", "")).splitlines()[0][:200] \
                if isinstance(data, dict) and data.get("error_description") else ""
            raise GraphAuthError(f"Graph token for tenant {s.tenant_id} client {s.client_id} "
                                 f"refused: {err}" + (f" ({desc})" if desc else ""), status)
        lifetime = float(data.get("expires_in", 3599))
        margin = min(s.refresh_margin_s, lifetime / 2)
        self._token = str(data["access_token"])
        self._expires = time.time() + lifetime - margin
        self.token_refreshes += 1

    # -- requests ------------------------------------------------------------------------

    def _slot(self, mailbox: str) -> asyncio.Semaphore:
        key = mailbox.lower()
        sem = self._slots.get(key)
        if sem is None:
            sem = self._slots[key] = asyncio.Semaphore(self.settings.per_mailbox_concurrency)
        return sem

    async def _spend(self, mailbox: str) -> None:
        """Keep under the per-mailbox budget: wait when the window is full."""
        window = self._spent.setdefault(mailbox.lower(), collections.deque())
        while True:
            now = time.monotonic()
            while window and now - window[0] > self.settings.budget_window_s:
                window.popleft()
            if len(window) < self.settings.budget_requests:
                window.append(now)
                return
            await asyncio.sleep(self.settings.budget_window_s - (now - window[0]) + 0.01)

    async def request(self, method: str, mailbox: str, path: str, *,
                      body: Any = None, params: dict[str, str] | None = None,
                      raw: bool = False, url: str | None = None) -> GraphResponse:
        """One call against mailbox's limits; path is relative to graph_url."""
        async with self._slot(mailbox):
            return await self._send(method, mailbox, url or self.settings.graph_url + path,
                                    body=body, params=params, raw=raw)

    async def _send(self, method: str, mailbox: str, url: str, *, body: Any,
                    params: dict[str, str] | None, raw: bool) -> GraphResponse:
        delay = 0.5
        refreshed = False
        attempt = -1
        # A 429 is the server pacing us, not a fault: it does not use up a retry, only
        # the throttle budget, so a busy tenant slows remediation down but never fails it.
        throttle_deadline = time.monotonic() + self.settings.max_throttle_wait_s
        while attempt < self.settings.max_retries:
            attempt += 1
            await self._spend(mailbox)
            headers = {"Authorization": f"Bearer {await self.token()}", "Prefer": IMMUTABLE}
            try:
                async with self._http().request(method, url, json=body, params=params,
                                                headers=headers) as resp:
                    status = resp.status
                    resp_headers = dict(resp.headers)
                    if raw and status < 300:
                        payload: Any = await resp.read()
                    else:
                        text = await resp.text()
                        try:
                            payload = json.loads(text) if text else {}
                        except ValueError:
                            payload = {"error": {"code": f"HTTP{status}",
                                                 "message": text[:200]}}
            except (aiohttp.ClientError, TimeoutError) as exc:
                if attempt >= self.settings.max_retries:
                    raise GraphError(f"Graph {method} unreachable: {type(exc).__name__}") \
                        from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            result = GraphResponse(status, payload, resp_headers)
            if status == 401 and not refreshed:
                refreshed = True  # expired or revoked early: one fresh token, then retry
                await self.token(force=True)
                continue
            if status == 429 and time.monotonic() < throttle_deadline:
                self.throttled += 1
                attempt -= 1
                await asyncio.sleep(retry_after(resp_headers, delay) + random.uniform(0, 0.05))
                delay = min(delay * 2, 30.0)
                continue
            if status in RETRY_STATUSES and attempt < self.settings.max_retries:
                self.throttled += status == 429
                await asyncio.sleep(retry_after(resp_headers, delay))
                delay = min(delay * 2, 30.0)
                continue
            return result
        raise GraphError(f"Graph {method}: retries exhausted")

    async def batch(self, mailbox: str, requests: list[dict[str, Any]]) -> list[GraphResponse]:
        """Run up to BATCH_MAX requests to one mailbox in one $batch, in order.

        Requests are chained with dependsOn so the service runs them one after another:
        a batch then holds one of the mailbox's concurrency slots, not twenty. Members
        answered 429 are sent again after their Retry-After.
        """
        out: list[GraphResponse | None] = [None] * len(requests)
        pending = list(range(len(requests)))
        delay = 0.5
        for _ in range(self.settings.max_retries + 1):
            if not pending:
                break
            members = []
            for n, idx in enumerate(pending[:BATCH_MAX]):
                member = {"id": str(idx), **requests[idx],
                          "headers": {"Content-Type": "application/json", "Prefer": IMMUTABLE}}
                if n:
                    member["dependsOn"] = [str(pending[n - 1])]
                members.append(member)
            resp = await self.request("POST", mailbox, "/$batch", body={"requests": members})
            if resp.status != 200 or not isinstance(resp.body, dict):
                raise GraphError(f"Graph $batch: HTTP {resp.status} {resp.code}", resp.status,
                                 resp.code)
            wait = 0.0
            retry: list[int] = []
            for item in resp.body.get("responses", []):
                idx = int(item.get("id", -1))
                if idx not in pending:
                    continue
                status = int(item.get("status", 0))
                headers = {str(k): str(v) for k, v in (item.get("headers") or {}).items()}
                # 424: a member it depended on failed (was throttled): send it again too.
                if status in (*RETRY_STATUSES, 424):
                    retry.append(idx)
                    self.throttled += status == 429
                    wait = max(wait, retry_after(headers, delay))
                    continue
                out[idx] = GraphResponse(status, item.get("body"), headers)
            retry += [i for i in pending[:BATCH_MAX] if out[i] is None and i not in retry]
            pending = sorted(retry) + pending[BATCH_MAX:]
            if retry:
                await asyncio.sleep(wait or delay)
                delay = min(delay * 2, 30.0)
        if pending:
            raise GraphError("Graph $batch: retries exhausted")
        return [r for r in out if r is not None]


def retry_after(headers: dict[str, str], fallback: float) -> float:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        seconds = float(value) if value is not None else fallback
    except ValueError:
        seconds = fallback
    # A little jitter so that throttled callers do not come back in lock-step.
    return min(max(seconds, 0.0), 120.0) * (1.0 + random.random() * 0.1)
