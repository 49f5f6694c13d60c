"""A real Prometheus scrapes a real `trawler run`; every dashboard query must return data.

One scenario per module: clean mail, a phish removed from three mailboxes, a rule
reload, and a click and a disposition when the API offers them. Then each PromQL
expression in helm/trawler/dashboards/trawler.json goes through Prometheus' HTTP API
and must parse and return at least one finite value: a panel that shows nothing fails.
The same run's logs must be JSON lines that never carry the test credentials.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.mailgen import RULE, THREE_RECIPIENTS, journal_report, phish
from tests.test_pipeline import RECIPIENTS, deliver, files

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "helm" / "trawler" / "dashboards" / "trawler.json"
# Tests must not dirty the checkout: results land in bench/results only when asked
# (bench/dashboard_render.py reads them from there).
RESULTS = Path(os.environ.get("TRAWLER_DASHBOARD_RESULTS", "") or ROOT / "build" / "results")
NAMESPACE, POD = "trawler-e2e", "trawler-e2e-0"
# What Grafana would substitute: 4 scrape intervals is its $__rate_interval floor; the
# whole scenario fits inside these windows.
VARIABLES = {"$__rate_interval": "1m", "$__range": "5m", "$namespace": NAMESPACE,
             "$pod": POD}
API_TOKEN = "e2e-api-token-Zq8vW3xK"  # test credentials: the log check greps for them
IMAP_PASSWORD = "e2e-imap-pass-Hr5tY2mB"
EXTRA_RULE = RULE.replace("PHISH_Test_PasswordExpiry", "PHISH_Test_Reloaded").replace(
    "test-0001", "test-0002")


def http(method: str, url: str, body: bytes | None = None,
         token: str | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def wait_for(pred: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def dashboard_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title + legend, expr) for every target of every panel, rows included."""
    out: list[tuple[str, str]] = []
    stack = list(dashboard["panels"])
    while stack:
        panel = stack.pop(0)
        stack.extend(panel.get("panels", []))
        for target in panel.get("targets", []):
            if target.get("expr"):
                out.append((f"{panel['title']} [{target.get('legendFormat', '')}]",
                            target["expr"]))
    return out


def substitute(expr: str) -> str:
    # Longest names first, so "$pod" never eats the front of a longer variable.
    for name in sorted(VARIABLES, key=len, reverse=True):
        expr = expr.replace("${" + name[1:] + "}", VARIABLES[name]).replace(name,
                                                                            VARIABLES[name])
    return expr


@dataclass
class Scenario:
    prom: str
    trawler: str
    trawler_proc: subprocess.Popen[bytes]
    log_path: Path
    click_api: bool = False
    disposition_api: bool = False
    notes: list[str] = field(default_factory=list)

    def stop(self) -> bytes:
        """SIGTERM Trawler (idempotent), check it drained cleanly, return its logs."""
        if self.trawler_proc.poll() is None:
            self.trawler_proc.send_signal(signal.SIGTERM)
            self.trawler_proc.wait(timeout=30)
        logs = self.log_path.read_bytes()
        assert self.trawler_proc.returncode == 0, logs.decode(errors="replace")[-3000:]
        return logs

    def query(self, expr: str, at: float | None = None) -> dict[str, Any]:
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        status, body = http("GET", f"{self.prom}/api/v1/query?"
                            + urllib.parse.urlencode(params))
        answer: dict[str, Any] = json.loads(body or b"{}")
        assert status == 200 and answer.get("status") == "success", (expr, status, body[:500])
        return answer["data"]  # type: ignore[no-any-return]

    def value(self, expr: str) -> float:
        result = self.query(expr)["result"]
        return float(result[0]["value"][1]) if result else math.nan


def start_prometheus(tmp: Path, target: str) -> tuple[subprocess.Popen[bytes], str]:
    exe = shutil.which("prometheus")
    assert exe, "prometheus is not installed: run .ci/prometheus.sh (Debian package)"
    port = free_port()
    config = tmp / "prometheus.yml"
    config.write_text(json.dumps({  # JSON is YAML; no template escaping to get wrong
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{
            "job_name": "trawler", "scrape_interval": "1s", "scrape_timeout": "900ms",
            "static_configs": [{"targets": [target],
                                "labels": {"namespace": NAMESPACE, "pod": POD}}],
        }],
    }))
    with (tmp / "prometheus.log").open("wb") as log:  # the child keeps its own copy
        proc = subprocess.Popen(
            [exe, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
    return proc, f"http://127.0.0.1:{port}"


def drive(s: Scenario, data: Path, rules: Path) -> None:
    base = s.trawler
    journal = data / "journal"

    def drop(name: str, raw: bytes) -> None:
        (journal / "tmp" / name).write_bytes(raw)
        (journal / "tmp" / name).rename(journal / "new" / name)

    def metric_line(needle: str) -> bool:
        return needle in http("GET", base + "/metrics")[1].decode()

    clean = phish(message_id="<lunch-1@corp.example>", subject="Lunch",
                  body="Lunch at noon on Friday?", sender="alice@corp.example")
    drop("clean.eml", journal_report(clean, ["To: bob@corp.example"],
                                     sender="alice@corp.example",
                                     message_id="<lunch-1@corp.example>", subject="Lunch"))
    wait_for(lambda: metric_line('outcome="clean"} 1.0'), 10, "the clean message")

    original = phish()
    for r in RECIPIENTS:
        deliver(data / "mailboxes", r, original)
    drop("phish.eml", journal_report(original, THREE_RECIPIENTS))
    wait_for(lambda: all(not files(data / "mailboxes" / r) for r in RECIPIENTS), 10,
             "the phish to leave all three mailboxes")

    (rules / "reloaded.yar").write_text(EXTRA_RULE)
    wait_for(lambda: metric_line('trawler_rule_reloads_total{result="success"} 1.0'), 10,
             "a rule reload")

    status, body = http("GET", base + "/v1/alerts", token=API_TOKEN)
    assert status == 200, body
    [alert] = json.loads(body)["alerts"]
    # The response loop (clicks, dispositions) lands separately; use it when it is there.
    event = json.dumps({"user": "bob@corp.example", "ts": time.time(),
                        "url": "https://login.corp-verify.test/owa/verify?u=1"}).encode()
    status, body = http("POST", base + "/v1/events/web", event + b"\n", API_TOKEN)
    s.click_api = status != 404
    if s.click_api:
        assert 200 <= status < 300, (status, body)
    else:
        s.notes.append("POST /v1/events/web not in this build: click panels show zeros")
    status, body = http("POST", f"{base}/v1/alerts/{alert['id']}/disposition",
                        json.dumps({"disposition": "DELIVERY"}).encode(), API_TOKEN)
    s.disposition_api = status != 404
    if s.disposition_api:
        assert 200 <= status < 300, (status, body)
    else:
        s.notes.append("POST /v1/alerts/{id}/disposition not in this build: "
                       "disposition panel shows zeros")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    tmp = tmp_path_factory.mktemp("prom-e2e")
    data, rules = tmp / "trawler-data", tmp / "rules"
    rules.mkdir()
    (rules / "test.yar").write_text(RULE)
    port, closed = free_port(), free_port()
    config = tmp / "trawler.yaml"
    config.write_text(json.dumps({
        "data_root": str(data), "rules": str(rules), "listen": f"127.0.0.1:{port}",
        "rules_reload_s": 0.5,
        "collectors": [
            {"name": "journal", "type": "maildir", "path": str(data / "journal")},
            # Nothing listens here: the collector retries, logging why, with its password
            # loaded, so the log check below covers a credential on an error path.
            {"name": "imap_journal", "type": "imap", "host": "127.0.0.1", "port": closed,
             "tls": "none", "username": "journal@corp.example",
             "password_env": "TRAWLER_JOURNAL_PASSWORD"},
        ],
    }))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAWLER_")}
    env.update(TRAWLER_API_TOKEN=API_TOKEN, TRAWLER_JOURNAL_PASSWORD=IMAP_PASSWORD)
    with (tmp / "trawler.log").open("wb") as out:
        trawler = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "run", "--config", str(config)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    prom, prom_url = start_prometheus(tmp, f"127.0.0.1:{port}")
    s = Scenario(prom=prom_url, trawler=f"http://127.0.0.1:{port}", trawler_proc=trawler,
                 log_path=tmp / "trawler.log")
    try:
        wait_for(lambda: http("GET", s.trawler + "/readyz")[0] == 200, 30, "trawler ready")
        wait_for(lambda: http("GET", s.prom + "/-/ready")[0] == 200, 30, "prometheus ready")
        wait_for(lambda: s.value(f'up{{namespace="{NAMESPACE}"}}') == 1, 30,
                 "the first successful scrape")
        time.sleep(2)  # a few scrapes of the zero state, so rate() sees every increase
        drive(s, data, rules)
        wait_for(lambda: s.value("max(trawler_rule_reloads_total"
                                 '{result="success"})') >= 1, 20,
                 "prometheus to scrape the scenario's end")
        time.sleep(2)
        yield s
    finally:
        try:
            s.stop()
        finally:
            prom.terminate()
            prom.wait(timeout=30)


def test_every_dashboard_query_returns_data(scenario: Scenario,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = dashboard_queries(dashboard)
    assert len(queries) >= 15, "the dashboard lost panels"
    lines: list[str] = [f"# {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} "
                        f"{len(queries)} queries; variables {VARIABLES}", *(
                            f"# note: {n}" for n in scenario.notes)]
    failures: list[str] = []
    results: dict[str, Any] = {"variables": VARIABLES, "notes": scenario.notes, "panels": []}
    end = time.time()
    for title, expr in queries:
        promql = substitute(expr)
        assert "$" not in promql, f"unsubstituted variable in {promql}"
        data = scenario.query(promql, at=end)
        values = [(",".join(f"{k}={v}" for k, v in sorted(r["metric"].items())) or "{}",
                   float(r["value"][1])) for r in data["result"]]
        finite = [v for _, v in values if math.isfinite(v)]
        shown = "; ".join(f"{m} = {v:.6g}" for m, v in values[:8])
        if len(values) > 8:
            shown += f"; ... ({len(values)} series)"
        lines.append(f"{title}\n    {promql}\n    -> {shown or 'NO DATA'}")
        if not finite:
            failures.append(f"{title}: {promql} -> {shown or 'no series'}")
        status, body = http("GET", scenario.prom + "/api/v1/query_range?" + urllib.parse.urlencode(
            {"query": promql, "start": f"{end - 60:.3f}", "end": f"{end:.3f}", "step": "1"}))
        series = json.loads(body)["data"]["result"] if status == 200 else []
        results["panels"].append({"title": title, "expr": promql, "instant": values,
                                  "range": series})
    for title, expr in (("variable namespace", "trawler_messages_total"),
                        ("variable pod", f'trawler_messages_total{{namespace="{NAMESPACE}"}}')):
        label = title.split()[1]
        status, body = http("GET", f"{scenario.prom}/api/v1/label/{label}/values?"
                            + urllib.parse.urlencode({"match[]": expr}))
        found = json.loads(body)["data"]
        lines.append(f"{title}: label_values({expr}, {label})\n    -> {found}")
        if (NAMESPACE if label == "namespace" else POD) not in found:
            failures.append(f"{title}: {found}")
    report = "\n".join(lines) + "\n"
    with capsys.disabled():  # CI's log shows every query and its value, pass or fail
        print("\n" + report, flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "dashboard_queries.txt").write_text(report)
    (RESULTS / "dashboard_results.json").write_text(json.dumps(results, indent=1) + "\n")
    assert not failures, "panels without data:\n" + "\n".join(failures)
    ttr = scenario.value(f'trawler_time_to_remediate_seconds_count{{pod="{POD}"}}')
    assert ttr == 1, ttr
    removed = scenario.value(f'sum(trawler_remediations_total{{result="removed",pod="{POD}"}})')
    assert removed == 3, removed
    if scenario.click_api:
        assert scenario.value("sum(trawler_clicks_total)") >= 1


def test_logs_are_json_lines_without_secrets(scenario: Scenario) -> None:
    # Stopping here puts the drain (SIGTERM) in the logs too; runs after the query test.
    logs = scenario.stop()
    assert API_TOKEN.encode() not in logs
    assert IMAP_PASSWORD.encode() not in logs
    events = [json.loads(line) for line in logs.decode().splitlines() if line.strip()]
    assert events, "no log lines"
    for e in events:
        assert {"ts", "level", "logger", "msg"} <= e.keys(), e
    alert_lines = [e for e in events if e.get("alert_id")]
    assert any(e.get("message_id") == "<phish-1@evil.test>" for e in alert_lines), alert_lines
    assert any("imap_journal" in e["msg"] for e in events), "the failing collector said nothing"
