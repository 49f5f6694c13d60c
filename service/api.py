"""HTTP on one port: /metrics, /healthz, /readyz, and the /v1 API behind a bearer token."""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from service import metrics
from service.actions.remediate import Remediator
from service.api_openapi import document
from service.api_response import (
    RESPONSE_KEY,
    Response,
    add_routes,
    json_error,
    remediable_alert,
)
from service.config import Settings, read_secret
from service.rules import RuleLibrary
from service.state.base import Store

log = logging.getLogger(__name__)

STORE_KEY: web.AppKey[Store] = web.AppKey("store", Store)
RULES_KEY: web.AppKey[RuleLibrary] = web.AppKey("rules", RuleLibrary)
REMEDIATOR_KEY: web.AppKey[Any] = web.AppKey("remediator", object)
TOKEN_KEY: web.AppKey[str] = web.AppKey("token", str)

MAX_BODY = 16 * 1024 * 1024
PUBLIC = frozenset({"/metrics", "/healthz", "/readyz", "/openapi.json"})


def api_token(settings: Settings) -> str:
    """From the environment or a file; else generated once into <data root>/api-token."""
    token = read_secret(settings.api_token_env, settings.api_token_file)
    if token:
        return token
    path = Path(settings.data_root) / "api-token"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    log.warning("no API token configured: generated one in %s (mode 0600)", path)
    return token


@web.middleware
async def error_middleware(request: web.Request,
                           handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                           ) -> web.StreamResponse:
    """aiohttp's own errors (404, 405, 413) answer in JSON too, like every handler."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = exc.reason if exc.status != 413 else (
            f"request body larger than {MAX_BODY} bytes")
        resp = json_error(exc.status, message.lower())
        if "Allow" in exc.headers:  # RFC 9110: a 405 names the methods that do work
            resp.headers["Allow"] = exc.headers["Allow"]
        return resp


@web.middleware
async def auth_middleware(request: web.Request,
                          handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                          ) -> web.StreamResponse:
    if request.path not in PUBLIC:
        header = request.headers.get("Authorization", "")
        scheme, _, supplied = header.partition(" ")
        expected = request.app[TOKEN_KEY]
        if scheme.lower() != "bearer" or not hmac.compare_digest(
                supplied.strip().encode(), expected.encode()):
            return json_error(401, "missing or wrong bearer token")
    return await handler(request)


async def metrics_handler(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(REGISTRY),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    store_ok = False
    try:
        store_ok = await request.app[STORE_KEY].ping()
    except Exception:  # readiness answers, it does not raise
        store_ok = False
    rules_ok = request.app[RULES_KEY].loaded
    status = 200 if store_ok and rules_ok else 503
    return web.json_response({"store": store_ok, "rules": rules_ok}, status=status)


async def list_alerts(request: web.Request) -> web.Response:
    try:
        limit = min(int(request.query.get("limit", "50")), 500)
        offset = max(int(request.query.get("offset", "0")), 0)
    except ValueError:
        return json_error(400, "limit and offset must be integers")
    if limit < 1:
        return json_error(400, "limit must be at least 1")
    alerts = await request.app[STORE_KEY].list_alerts(limit, offset)
    return web.json_response({"alerts": alerts, "limit": limit, "offset": offset})


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document())


async def restore_alert(request: web.Request) -> web.Response:
    found = await remediable_alert(request.app[STORE_KEY], request.match_info["id"],
                                   request.app[REMEDIATOR_KEY])
    if isinstance(found, web.Response):
        return found
    alert, remediator = found
    results = await remediator.restore(alert["key"], actor="api", reason="restore")
    return web.json_response({"id": alert["id"], "restored": results})


def build_app(settings: Settings, store: Store, rules: RuleLibrary,
              remediator: Remediator | None, token: str, pipeline: Any = None,
              index_refresh_s: float = 1.0) -> web.Application:
    """`pipeline` (service.pipeline.Pipeline) enables retro-hunt in this process."""
    app = web.Application(middlewares=[error_middleware, auth_middleware],
                          client_max_size=MAX_BODY)
    app[STORE_KEY] = store
    app[RULES_KEY] = rules
    app[REMEDIATOR_KEY] = remediator
    app[TOKEN_KEY] = token
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/v1/alerts", list_alerts)
    app.router.add_post("/v1/alerts/{id}/restore", restore_alert)
    app.router.add_get("/openapi.json", openapi)
    response = Response.build(settings, store, rules, remediator, pipeline, index_refresh_s)
    metrics.initialise_response(
        [r.identifier for r in rules.current.rules] if rules.loaded else [])
    app[RESPONSE_KEY] = response
    add_routes(app)
    app.on_startup.append(response.start)
    app.on_cleanup.append(response.close)
    return app
