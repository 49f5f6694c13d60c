"""The response loop end to end on the embedded stack: clicks, opens, dispositions, retro-hunt."""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client import REGISTRY

from service.api_response import RESPONSE_KEY
from service.state.base import Store
from tests.respstack import ATTACHMENT, ATTACHMENT_SHA, AUTH, FIVE, PHISH, ApiStack, message
from tests.test_pipeline import files

RULE = "PHISH_Test_PasswordExpiry"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def lines(*objs: object) -> bytes:
    return b"\n".join(json.dumps(o).encode() if not isinstance(o, bytes) else o for o in objs)


async def test_who_clicked_and_opened_with_timing_and_suggestion(
        tmp_path: Path, store: Store) -> None:
    before = {t: sample("trawler_clicks_total", timing=t)
              for t in ("before_remediation", "after_remediation")}
    async with ApiStack(tmp_path, store) as st:
        key = await st.arrive(PHISH, FIVE, "<camp-0@evil.test>", "Password expiry notice")
        for r in FIVE:
            assert len(files(st.mailboxes / r / ".Quarantine")) == 1, r
        alert = (await (await st.client.get(f"/v1/alerts/{st.alert_id(key)}",
                                            headers=AUTH)).json())
        removed = alert["timeline"]["removed"]
        url = "https://login.corp-verify.test/owa/verify?u=1"
        body = lines(
            {"ts": removed - 30, "user": "CORP\\alice", "url": url, "method": "GET",
             "status": 200, "client_ip": "10.0.0.5"},
            {"ts": removed - 10, "user": "bob@corp.example", "method": "GET",
             "url": "HTTPS://LOGIN.Corp-Verify.test:443/owa/verify?u=1"},
            {"ts": removed + 60, "user": "carol", "url": url, "method": "POST", "status": 302},
            {"ts": removed + 70, "user": "erin", "url": "https://intranet.corp.example/"},
            b"{not json",
        )
        resp = await st.client.post("/v1/events/web", data=body, headers=AUTH)
        assert resp.status == 200
        assert await resp.json() == {"received": 4, "matched": 3, "invalid": 1}
        # A shipper retrying the same batch records nothing twice.
        await st.client.post("/v1/events/web", data=body, headers=AUTH)
        resp = await st.client.post("/v1/events/file", headers=AUTH, data=lines(
            {"ts": removed - 5, "user": "dave", "host": "PC-17", "sha256": ATTACHMENT_SHA,
             "path": "C:\\Users\\dave\\Downloads\\statement.pdf"}))
        assert await resp.json() == {"received": 1, "matched": 1, "invalid": 0}

        alert = await (await st.client.get(f"/v1/alerts/{st.alert_id(key)}",
                                           headers=AUTH)).json()
    clicks = {c["user"]: (c["timing"], c["credential_submission"]) for c in alert["clicks"]}
    assert clicks == {"alice@corp.example": ("before_remediation", False),
                      "bob@corp.example": ("before_remediation", False),
                      "carol@corp.example": ("after_remediation", True)}
    assert [(o["user"], o["timing"]) for o in alert["opens"]] == [
        ("dave@corp.example", "before_remediation")]
    assert [u["user"] for u in alert["exposed_users"]] == [
        "alice@corp.example", "bob@corp.example", "carol@corp.example", "dave@corp.example"]
    assert alert["suggested_disposition"]["disposition"] == "EXPLOITATION"
    assert alert["suggested_disposition"]["credential_submission"] is True
    assert alert["timeline"]["first_click"] == removed - 30
    assert {r["address"] for r in alert["recipients"]} == set(FIVE)
    assert all(rec["result"] == "removed" for rec in alert["remediation"].values())
    assert sample("trawler_clicks_total", timing="before_remediation") - before[
        "before_remediation"] == 2
    assert sample("trawler_clicks_total", timing="after_remediation") - before[
        "after_remediation"] == 1


async def test_false_positive_restores_all_five_and_counts_against_rule(
        tmp_path: Path, store: Store) -> None:
    fp_before = sample("trawler_rule_false_positives_total", rule=RULE)
    async with ApiStack(tmp_path, store) as st:
        key = await st.arrive(PHISH, FIVE, "<camp-0@evil.test>", "Password expiry notice")
        rules = (await (await st.client.get("/v1/rules", headers=AUTH)).json())["rules"]
        row = next(r for r in rules if r["rule"] == RULE)
        assert (row["hits"], row["false_positives"], row["remediations"]) == (1, 0, 5)
        resp = await st.client.post(f"/v1/alerts/{st.alert_id(key)}/disposition", headers=AUTH,
                                    json={"disposition": "FALSE_POSITIVE", "allowlist": True})
        assert resp.status == 200
        result = await resp.json()
        assert result["restored"] == dict.fromkeys(FIVE, "restored")
        for r in FIVE:
            assert files(st.mailboxes / r / ".Quarantine") == []
            assert len(files(st.mailboxes / r)) == 1, r
        # Said twice, counted once.
        await st.client.post(f"/v1/alerts/{st.alert_id(key)}/disposition", headers=AUTH,
                             json={"disposition": "FALSE_POSITIVE"})
        rules = (await (await st.client.get("/v1/rules", headers=AUTH)).json())["rules"]
        row = next(r for r in rules if r["rule"] == RULE)
        assert row["false_positives"] == 1 and row["false_positive_rate"] == 1.0
        alert = await (await st.client.get(f"/v1/alerts/{st.alert_id(key)}",
                                           headers=AUTH)).json()
        assert alert["disposition"] == "FALSE_POSITIVE"
        bad = await st.client.post(f"/v1/alerts/{st.alert_id(key)}/disposition", headers=AUTH,
                                   json={"disposition": "MAYBE"})
        assert bad.status == 400 and "disposition must be one of" in (await bad.json())["error"]
    assert sample("trawler_rule_false_positives_total", rule=RULE) - fp_before == 1
    assert {r["value"] for r in await store.list_records("allow", 10)} == {
        "helpdesk@evil.test", "login.corp-verify.test"}


async def test_malicious_disposition_retro_hunts_the_campaign(
        tmp_path: Path, store: Store) -> None:
    async with ApiStack(tmp_path, store) as st:
        # Earlier mails of the campaign: other senders and subjects, no rule fires on them.
        earlier = [
            ("<camp-1@evil.test>", "Mailbox quota", "bob@corp.example", message(
                "<camp-1@evil.test>", "Mailbox quota", "Quota full. Fix it at "
                "https://login.corp-verify.test/quota", sender="it@quota-notice.test",
                to="bob@corp.example")),
            ("<camp-2@evil.test>", "Shared document", "carol@corp.example", message(
                "<camp-2@evil.test>", "Shared document", "See https://login.corp-verify.test/"
                "doc?id=7", sender="share@docs-share.test", to="carol@corp.example")),
            ("<camp-3@evil.test>", "Your statement", "dave@corp.example", message(
                "<camp-3@evil.test>", "Your statement", "Statement attached.",
                sender="billing@statements.test", to="dave@corp.example",
                attachment=ATTACHMENT)),
        ]
        legit = message("<ok-1@partner.test>", "Lunch", "Lunch at https://partner.test/menu",
                        sender="chef@partner.test", to="bob@corp.example")
        for mid, subject, rcpt, raw in earlier:
            await st.arrive(raw, (rcpt,), mid, subject, sender="x@y.test", age_s=3600)
        await st.arrive(legit, ("bob@corp.example",), "<ok-1@partner.test>", "Lunch",
                        sender="chef@partner.test", age_s=3600)
        assert len(await store.list_alerts(10, 0)) == 0
        # carol clicked her (then clean) message: it must show up once it is flagged.
        await st.client.post("/v1/events/web", headers=AUTH, data=lines(
            {"ts": 1_700_000_000, "user": "carol", "url":
             "https://login.corp-verify.test/doc?id=7"}))

        key = await st.arrive(PHISH, FIVE, "<camp-0@evil.test>", "Password expiry notice")
        resp = await st.client.post(f"/v1/alerts/{st.alert_id(key)}/disposition", headers=AUTH,
                                    json={"disposition": "DELIVERY"})
        result = await resp.json()
        kinds = {i["type"] for i in result["indicators"]}
        assert kinds == {"email", "url", "domain", "sha256"}
        job = result["retrohunt"]
        assert job["state"] == "running"
        hunter = st.client.server.app[RESPONSE_KEY].hunter
        assert hunter is not None
        done = await hunter.wait(job["id"], 30)
        assert done is not None and done["state"] == "done"
        assert done["scanned"] == 5 and done["errors"] == 0
        polled = await (await st.client.get(f"/v1/retrohunt/{job['id']}", headers=AUTH)).json()
        assert polled["flagged"] == 4  # the three earlier mails and the phish itself
        for _, _, rcpt, _ in earlier:
            quarantined = files(st.mailboxes / rcpt / ".Quarantine")
            assert quarantined, rcpt
        assert len(files(st.mailboxes / "bob@corp.example")) == 1  # the lunch mail stays
        alerts = await store.list_alerts(10, 0)
        assert len(alerts) == 4
        assert sum(1 for a in alerts if str(a.get("found_by", "")).startswith("retrohunt:")) == 3
        carol_alert = next(a for a in alerts if a["message_id"] == "<camp-2@evil.test>")
        view = await (await st.client.get(f"/v1/alerts/{carol_alert['id']}",
                                          headers=AUTH)).json()
        assert [c["user"] for c in view["clicks"]] == ["carol@corp.example"]
