"""Every mutating endpoint: no token or a wrong one gets 401 and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from service.state.base import Store
from tests.respstack import ATTACHMENT_SHA, AUTH, FIVE, PHISH, TOKEN, ApiStack
from tests.test_pipeline import files


async def _state(st: ApiStack, key: str) -> object:
    alert = await st.store.get_alert(st.alert_id(key))
    return (alert, await st.store.get_remediations(key), await st.store.list_events(key),
            await st.store.list_indicators(), await st.store.list_records("retrohunt", 10),
            await st.store.list_rule_stats(), len(await st.store.list_audit(10_000)),
            {r: (len(files(st.mailboxes / r)), len(files(st.mailboxes / r / ".Quarantine")))
             for r in FIVE})


async def test_mutating_endpoints_refuse_without_the_token(tmp_path: Path, store: Store) -> None:
    async with ApiStack(tmp_path, store) as st:
        key = await st.arrive(PHISH, FIVE, "<camp-0@evil.test>", "Password expiry notice")
        aid = st.alert_id(key)
        click = json.dumps({"ts": 1_700_000_000, "user": "alice",
                            "url": "https://login.corp-verify.test/owa/verify?u=1"}).encode()
        opened = json.dumps({"ts": 1_700_000_000, "user": "dave",
                             "sha256": ATTACHMENT_SHA}).encode()
        posts = [
            (f"/v1/alerts/{aid}/disposition", json.dumps({"disposition": "EXPLOITATION"})),
            (f"/v1/alerts/{aid}/disposition", json.dumps({"disposition": "FALSE_POSITIVE"})),
            (f"/v1/alerts/{aid}/restore", "{}"),
            (f"/v1/alerts/{aid}/remediate", "{}"),
            ("/v1/events/web", click), ("/v1/events/web?format=squid", b""),
            ("/v1/events/file", opened), ("/v1/retrohunt", json.dumps({"days": 1})),
        ]
        routes = {(r.method, r.resource.canonical) for r in st.client.server.app.router.routes()
                  if r.resource is not None and r.method == "POST"}
        assert {(m, p.split("?")[0].replace(aid, "{id}")) for m, p in
                (("POST", p) for p, _ in posts)} == routes  # every POST route is covered
        before = await _state(st, key)
        bad_headers = [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                       {"Authorization": f"Basic {TOKEN}"}, {"Authorization": f"Bearer {TOKEN}x"},
                       {"Authorization": "Bearer "}]
        for path, body in posts:
            for headers in bad_headers:
                resp = await st.client.post(path, data=body, headers=headers)
                assert resp.status == 401, (path, headers)
                assert (await resp.json())["error"] == "missing or wrong bearer token"
        assert await _state(st, key) == before
        # GETs under /v1 need it too; the probes do not.
        assert (await st.client.get("/v1/alerts")).status == 401
        assert (await st.client.get("/v1/rules")).status == 401
        assert (await st.client.get("/healthz")).status == 200
        assert (await st.client.get("/openapi.json")).status == 200
        # And with the token the same call does act.
        resp = await st.client.post("/v1/events/web", data=click, headers=AUTH)
        assert (await resp.json())["matched"] == 1
