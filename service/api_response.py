"""The response-loop endpoints: alert view, dispositions, re-remediation, events, rules, retro-hunt.

Handlers validate everything they read and answer a JSON error naming the problem;
the heavy lifting is in service/actions/. Wiring lives in `Response`, which build_app
attaches to the aiohttp app.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from service.actions.alerts import alert_view
from service.actions.clicks import EventRecorder, UrlIndex
from service.actions.intel import DISPOSITIONS, Dispositions
from service.actions.remediate import Remediator, Request
from service.actions.retrohunt import JOB_KIND, RetroHunter
from service.actions.weblogs import FORMATS, LogTail, Users, parse_files, parse_web
from service.collectors.base import MessageIdentity
from service.config import Settings
from service.model import Severity
from service.rules import RuleLibrary
from service.state.base import JSON, Store


def json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@dataclass
class Response:
    settings: Settings
    store: Store
    rules: RuleLibrary
    remediator: Remediator | None
    recorder: EventRecorder
    dispositions: Dispositions
    hunter: RetroHunter | None
    tails: list[LogTail] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings, store: Store, rules: RuleLibrary,
              remediator: Remediator | None, pipeline: Any = None,
              index_refresh_s: float = 1.0) -> Response:
        resp = settings.response
        domain = resp.user_domain or (settings.organisation_domains or (None,))[0]
        users = Users.from_file(resp.user_aliases_file, domain)
        index = UrlIndex(store, refresh_s=index_refresh_s, max_keys=resp.max_keys_per_url)
        recorder = EventRecorder(store, index, users, resp.url_index_ttl_s)
        hunter = RetroHunter(settings, store, pipeline) if pipeline is not None else None
        dispositions = Dispositions(settings, store, remediator, hunter)
        self = cls(settings, store, rules, remediator, recorder, dispositions, hunter)

        async def ingest(body: bytes, fmt: str) -> object:
            events, _ = parse_web(body, fmt)
            return await recorder.ingest_web(events)

        self.tails = [LogTail(w.path, w.format, ingest) for w in resp.web_logs]
        return self

    async def start(self, app: web.Application) -> None:
        self.stop = asyncio.Event()
        self.tasks = [asyncio.create_task(t.run(self.stop)) for t in self.tails]

    async def close(self, app: web.Application) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.hunter is not None:
            await self.hunter.close()


RESPONSE_KEY: web.AppKey[Response] = web.AppKey("response", Response)


async def _json_body(request: web.Request) -> JSON | web.Response:
    try:
        body = await request.json(loads=json.loads) if await request.read() else {}
    except ValueError:
        return json_error(400, "body is not valid JSON")
    if not isinstance(body, dict):
        return json_error(400, "body must be a JSON object")
    return body


async def find_alert(store: Store, alert_id: str) -> JSON | web.Response:
    """The stored alert, or the 404 answer naming that there is none."""
    alert = await store.get_alert(alert_id)
    if alert is None:
        return json_error(404, "no such alert")
    return alert


async def remediable_alert(store: Store, alert_id: str, remediator: Remediator | None
                           ) -> tuple[JSON, Remediator] | web.Response:
    """The alert and the remediator to act on it, or the 404/409 answer why not."""
    alert = await find_alert(store, alert_id)
    if isinstance(alert, web.Response):
        return alert
    if remediator is None:
        return json_error(409, "remediation is not configured")
    return alert, remediator


async def get_alert(request: web.Request) -> web.Response:
    r = request.app[RESPONSE_KEY]
    alert = await find_alert(r.store, request.match_info["id"])
    if isinstance(alert, web.Response):
        return alert
    return web.json_response(await alert_view(r.store, alert))


async def disposition(request: web.Request) -> web.Response:
    r = request.app[RESPONSE_KEY]
    body = await _json_body(request)
    if isinstance(body, web.Response):
        return body
    value = body.get("disposition")
    comment = body.get("comment", "")
    allow = body.get("allowlist", False)
    if not isinstance(value, str) or value not in DISPOSITIONS:
        return json_error(400, "disposition must be one of " + ", ".join(DISPOSITIONS))
    if not isinstance(comment, str) or not isinstance(allow, bool):
        return json_error(400, "comment must be a string and allowlist a boolean")
    alert = await find_alert(r.store, request.match_info["id"])
    if isinstance(alert, web.Response):
        return alert
    result = await r.dispositions.apply(alert, value, actor="api", comment=comment,
                                        allowlist=allow)
    return web.json_response(result)


async def remediate(request: web.Request) -> web.Response:
    r = request.app[RESPONSE_KEY]
    found = await remediable_alert(r.store, request.match_info["id"], r.remediator)
    if isinstance(found, web.Response):
        return found
    alert, remediator = found
    ident = alert.get("identity") or {}
    rules = tuple(sorted({str(f["rule"]) for f in alert.get("findings", []) if f.get("rule")}))
    records = await remediator.remediate(Request(
        key=str(alert["key"]), alert_id=str(alert["id"]),
        ident=MessageIdentity(message_id=str(ident.get("message_id") or ""),
                              from_header=ident.get("from"), subject=ident.get("subject"),
                              date=ident.get("date")),
        recipients=tuple(str(x["address"]) for x in alert.get("recipients", [])), rules=rules,
        severity=Severity.parse(alert.get("severity"), Severity.HIGH),
        received_at=float(alert.get("received_at") or time.time()), actor="api",
        reason="api", force=True))
    return web.json_response({"id": alert["id"], "remediation": records})


async def web_events(request: web.Request) -> web.Response:
    r = request.app[RESPONSE_KEY]
    fmt = request.query.get("format", "json")
    if fmt not in FORMATS:
        return json_error(400, "format must be one of " + ", ".join(FORMATS))
    events, invalid = parse_web(await request.read(), fmt)
    result = await r.recorder.ingest_web(events)
    return web.json_response({**result, "invalid": invalid})


async def file_events(request: web.Request) -> web.Response:
    r = request.app[RESPONSE_KEY]
    events, invalid = parse_files(await request.read())
    result = await r.recorder.ingest_files(events)
    return web.json_response({**result, "invalid": invalid})


async def list_rules(request: web.Request) -> web.Response:
    r = request.app[RESPONSE_KEY]
    stats = await r.store.list_rule_stats()
    out: dict[str, JSON] = {}
    if r.rules.loaded:
        for rule in r.rules.current.rules:
            meta = rule.meta
            out[rule.identifier] = {
                "rule": rule.identifier, "id": meta.get("id"),
                "description": meta.get("description"), "severity": meta.get("severity"),
                "status": meta.get("status", "stable")}
    for name, s in stats.items():
        row = out.setdefault(name, {"rule": name, "id": None, "description": None,
                                    "severity": None, "status": None})
        row.update(s)
    rows = []
    for row in out.values():
        hits, fps = int(row.get("hits", 0)), int(row.get("false_positives", 0))
        row.update({"hits": hits, "false_positives": fps,
                    "remediations": int(row.get("remediations", 0)),
                    "last_hit": row.get("last_hit"),
                    "false_positive_rate": round(fps / hits, 4) if hits else None})
        rows.append(row)
    rows.sort(key=lambda x: (-x["hits"], x["rule"]))
    return web.json_response({"rules": rows})


async def start_retrohunt(request: web.Request) -> web.Response:
    r = request.app[RESPONSE_KEY]
    if r.hunter is None:
        return json_error(409, "retro-hunt needs the pipeline in this process")
    body = await _json_body(request)
    if isinstance(body, web.Response):
        return body
    days = body.get("days", r.settings.response.retrohunt_days)
    reason = body.get("reason", "api")
    if isinstance(days, bool) or not isinstance(days, int) or not isinstance(reason, str):
        return json_error(400, "days must be an integer and reason a string")
    try:
        job = await r.hunter.start(days, reason=reason, actor="api")
    except ValueError as exc:
        return json_error(400, str(exc))
    return web.json_response(job, status=202)


async def list_retrohunts(request: web.Request) -> web.Response:
    r = request.app[RESPONSE_KEY]
    return web.json_response({"jobs": await r.store.list_records(JOB_KIND, 50)})


async def get_retrohunt(request: web.Request) -> web.Response:
    r = request.app[RESPONSE_KEY]
    job = await r.store.get_record(JOB_KIND, request.match_info["id"])
    if job is None:
        return json_error(404, "no such retro-hunt job")
    return web.json_response(job)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/alerts/{id}", get_alert)
    app.router.add_post("/v1/alerts/{id}/disposition", disposition)
    app.router.add_post("/v1/alerts/{id}/remediate", remediate)
    app.router.add_post("/v1/events/web", web_events)
    app.router.add_post("/v1/events/file", file_events)
    app.router.add_get("/v1/rules", list_rules)
    app.router.add_post("/v1/retrohunt", start_retrohunt)
    app.router.add_get("/v1/retrohunt", list_retrohunts)
    app.router.add_get("/v1/retrohunt/{id}", get_retrohunt)
