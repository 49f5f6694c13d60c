"""Benchmark: journal APPEND -> removed from every recipient mailbox, on loopback Dovecot.

One `trawler run` process (IMAP journal collector, IMAP master-user mailboxes, SQLite
state) against a private Dovecot (tests/servers/dovecot.py). Every phish is delivered
beforehand to three recipients (one copy in a subfolder); its journal report is then
APPENDed at a fixed rate. Three views of the same latency:

  timeline  APPEND done -> the alert's timeline.removed (trawler's record of the last
            copy leaving), every message; both wall clocks are this machine's
  observer  APPEND done -> an outside IMAP client sees it gone from all three folders,
            a sample of messages (the user's view, includes the observer's poll)
  histogram trawler_time_to_remediate_seconds: trawler's own metric, which starts when
            the collector fetched the report (so it leaves out the journal poll)

    python bench/remediation_latency.py [--rate 20] [--duration 60] [--sample-every 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import imapclient
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.mailgen import THREE_RECIPIENTS, journal_report, phish
from tests.servers.dovecot import (
    MASTER_PASSWORD,
    MASTER_USER,
    PASSWORD,
    DovecotServer,
)
from tests.test_e2e_imap import (
    JOURNAL_FOLDER,
    JOURNAL_USER,
    PLACES,
    TOKEN,
    imap_config,
    start_trawler,
    stop_trawler,
    write_rules,
)

WARMUP = 5  # first messages open the pooled sessions and create Quarantine: not counted


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50_ms": round(pct(values, 50) * 1000, 1),
            "p99_ms": round(pct(values, 99) * 1000, 1),
            "max_ms": round(max(values) * 1000, 1),
            "mean_ms": round(statistics.fmean(values) * 1000, 1)}


def get_json(url: str) -> Any:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def get_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return str(resp.read().decode())


def histogram_quantiles(metrics: str) -> dict[str, Any]:
    """p50/p99 upper bucket bounds of trawler_time_to_remediate_seconds."""
    buckets: list[tuple[float, float]] = []
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith("trawler_time_to_remediate_seconds_bucket"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float("inf") if le == "+Inf" else float(le),
                            float(line.rsplit(" ", 1)[1])))
        elif line.startswith("trawler_time_to_remediate_seconds_count"):
            total = float(line.rsplit(" ", 1)[1])
        elif line.startswith("trawler_time_to_remediate_seconds_sum"):
            sum_s = float(line.rsplit(" ", 1)[1])
    out: dict[str, Any] = {"n": int(total)}
    if total:
        for name, q in (("p50_le_ms", 0.5), ("p99_le_ms", 0.99)):
            out[name] = next(round(le * 1000, 1) for le, c in buckets if c >= q * total)
        out["mean_ms"] = round(sum_s / total * 1000, 1)
    return out


class Observer(threading.Thread):
    """Polls the recipients' folders for sampled Message-IDs from its own sessions."""

    def __init__(self, dovecot: DovecotServer) -> None:
        super().__init__(daemon=True)
        self.dovecot = dovecot
        self.pending: dict[str, float] = {}  # Message-ID -> APPEND time
        self.done: dict[str, float] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def watch(self, message_id: str, appended: float) -> None:
        with self.lock:
            self.pending[message_id] = appended

    def run(self) -> None:
        clients = {}
        for user, folder in PLACES.items():
            c = imapclient.IMAPClient(self.dovecot.host, self.dovecot.port, ssl=False)
            c.login(f"{user}*{MASTER_USER}", MASTER_PASSWORD)
            c.select_folder(folder, readonly=True)
            clients[user] = c
        while not self.stop.is_set():
            with self.lock:
                todo = list(self.pending)
            for mid in todo:
                if all(not c.search(["HEADER", "Message-ID", mid]) for c in clients.values()):
                    seen = time.time()
                    with self.lock:
                        self.done[mid] = seen - self.pending.pop(mid)
            time.sleep(0.005)
        for c in clients.values():
            c.logout()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--rate", type=float, default=20.0, help="journal reports per second")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    ap.add_argument("--sample-every", type=int, default=5, help="observer sample stride")
    ap.add_argument("--poll", type=float, default=0.02, help="collector poll_interval_s")
    args = ap.parse_args()
    count = int(args.rate * args.duration)
    root = Path(tempfile.mkdtemp(prefix="trawler-bench-"))
    dovecot = DovecotServer()
    dovecot.start()
    proc = None
    try:
        for user in (JOURNAL_USER, *PLACES):
            dovecot.add_user(user)
        ids = [f"<bench-{i}-{time.time_ns()}@evil.test>" for i in range(WARMUP + count)]
        originals = [phish(m, to="bob@corp.example, dave@corp.example") for m in ids]
        t = time.monotonic()
        for user, folder in PLACES.items():
            dovecot.append_many(user, folder, originals)
        print(f"delivered {len(ids)} phish to {len(PLACES)} mailboxes in "
              f"{time.monotonic() - t:.1f}s", file=sys.stderr)
        reports = [journal_report(o, THREE_RECIPIENTS, message_id=m)
                   for m, o in zip(ids, originals, strict=True)]

        settings = imap_config(dovecot, root / "data", write_rules(root),
                               f"sqlite:///{root / 'state.db'}")
        settings["collectors"][0]["poll_interval_s"] = args.poll
        cfg = root / "trawler.yaml"
        cfg.write_text(yaml.safe_dump(settings))
        base = f"http://{settings['listen']}"
        proc = start_trawler(cfg, root, log=root / "trawler.log")
        deadline = time.monotonic() + 30
        while True:
            try:
                get_text(base + "/readyz")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("trawler never became ready") from None
                time.sleep(0.1)

        observer = Observer(dovecot)
        observer.start()
        appended: dict[str, float] = {}
        journal = imapclient.IMAPClient(dovecot.host, dovecot.port, ssl=False)
        journal.login(JOURNAL_USER, PASSWORD)
        for i in range(WARMUP):
            journal.append(JOURNAL_FOLDER, reports[i])
        time.sleep(2)
        start = time.monotonic()
        late = 0
        for n, i in enumerate(range(WARMUP, WARMUP + count)):
            due = start + n / args.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                late += 1
            journal.append(JOURNAL_FOLDER, reports[i])
            appended[ids[i]] = time.time()
            if n % args.sample_every == 0:
                observer.watch(ids[i], appended[ids[i]])
        load_s = time.monotonic() - start
        journal.logout()

        removed: dict[str, float] = {}
        detected: dict[str, float] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            removed = {}
            offset = 0
            while True:
                page = get_json(f"{base}/v1/alerts?limit=500&offset={offset}")["alerts"]
                for a in page:
                    if "removed" in a.get("timeline", {}):
                        removed[a["message_id"]] = a["timeline"]["removed"]
                        detected[a["message_id"]] = a["timeline"]["detected"]
                offset += len(page)
                if len(page) < 500:
                    break
            if all(m in removed for m in appended) and not observer.pending:
                break
            time.sleep(1)
        observer.stop.set()
        observer.join(10)
        hist = histogram_quantiles(get_text(base + "/metrics"))
        timeline = [removed[m] - appended[m] for m in appended if m in removed]
        # Where the time goes: intake + queue + scan, then the removal itself.
        to_detected = [detected[m] - appended[m] for m in appended if m in detected]
        to_removed = [removed[m] - detected[m] for m in appended if m in removed]
        with urllib.request.urlopen(base + "/metrics", timeout=30) as resp:
            retried = sum(float(line.rsplit(" ", 1)[1]) for line in resp.read().decode()
                          .splitlines() if line.startswith('trawler_messages_total{')
                          and 'outcome="error"' in line)
        result = {
            "messages": count, "rate_per_s": args.rate, "load_s": round(load_s, 1),
            "appends_behind_schedule": late, "collector_poll_s": args.poll,
            "missing": sum(m not in removed for m in appended),
            "timeline_append_to_removed": summary(timeline),
            "observer_append_to_gone": summary(list(observer.done.values())),
            "observer_missing": len(observer.pending),
            "stage_append_to_detected": summary(to_detected),
            "stage_detected_to_removed": summary(to_removed),
            "processing_errors_left_for_retry": int(retried),
            "histogram_fetch_to_removed": hist,
        }
        print(json.dumps(result, indent=2))
        return 0
    finally:
        if proc is not None:
            stop_trawler(proc)
        dovecot.cleanup()


if __name__ == "__main__":
    sys.exit(main())
