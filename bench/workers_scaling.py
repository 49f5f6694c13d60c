"""Benchmark: pipeline throughput of `trawler run --workers 1` vs `--workers 2` on Redis.

Each round starts `trawler run --no-collectors --workers N` (Redis state under a fresh
key prefix, Maildir mailboxes), waits until it is up, then puts M journal reports
straight into the Redis queue and times until the queue is empty: every message parsed,
scanned, given a verdict and alert, removed from three recipient maildirs, and acked.
Rounds alternate (1, 2, 1, 2, ...) so a noisy neighbour hurts both alike; the best
round of each is reported with the ratio.

    python bench/workers_scaling.py [--messages 1500] [--rounds 2] [--redis URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import redis
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.state import open_store
from service.state.base import QueueItem
from tests.conftest import LOCAL_REDIS, RedisServer, free_port, redis_answers
from tests.mailgen import RULE, journal_report, phish
from tests.test_pipeline import deliver

REPO = Path(__file__).resolve().parent.parent


async def enqueue_all(url: str, reports: list[bytes]) -> None:
    store = open_store(url)
    await store.open()
    try:
        sem = asyncio.Semaphore(64)

        async def one(n: int, raw: bytes) -> None:
            async with sem:
                await store.enqueue(QueueItem("journal", raw, time.time(), str(n)))

        await asyncio.gather(*(one(n, r) for n, r in enumerate(reports)))
    finally:
        await store.close()


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def one_round(redis_url: str, workers: int, count: int, root: Path) -> dict[str, Any]:
    prefix = f"bench-workers-{uuid.uuid4().hex[:8]}:"
    work = root / f"w{workers}-{prefix[14:22]}"
    rules = work / "rules"
    rules.mkdir(parents=True)
    (rules / "test.yar").write_text(RULE)
    mailboxes = work / "mailboxes"
    reports = []
    for i in range(count):
        mid = f"<scale-{i}-{prefix}@evil.test>"
        # Three recipients of their own per message: the Maildir backend reads every file
        # of a mailbox to find a Message-ID, so shared mailboxes would measure that instead.
        rcpts = [f"u{i}-{k}@corp.example" for k in range(3)]
        original = phish(mid, to=", ".join(rcpts))
        for r in rcpts:
            deliver(mailboxes, r, original)
        reports.append(journal_report(original, [f"To: {r}" for r in rcpts], message_id=mid))
    listen = f"127.0.0.1:{free_port()}"
    state = f"{redis_url}?prefix={prefix}"
    cfg = work / "trawler.yaml"
    cfg.write_text(yaml.safe_dump({
        "data_root": str(work), "rules": str(rules), "state": state, "listen": listen,
        "organisation_domains": ["corp.example"],
        "mailboxes": {"type": "maildir", "path": str(mailboxes)},
        # every message has new recipients: the blast-radius guard would drop to shadow
        "remediation": {"blast_radius": {"max_removals": 10 * count}},
        "shutdown_grace_s": 5,
    }))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAWLER_")}
    env["TRAWLER_API_TOKEN"] = "bench"
    env["TRAWLER_LOG_LEVEL"] = "WARNING"
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "run", "--config", str(cfg), "--no-collectors",
         "--workers", str(workers)], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    client = redis.Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + 60
        while not ready(f"http://{listen}/readyz"):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("trawler did not start")
            time.sleep(0.1)
        time.sleep(3)  # the spawned worker processes load rules too
        start = time.monotonic()
        asyncio.run(enqueue_all(state, reports))
        enqueued = time.monotonic() - start
        # ack deletes the entry, so an empty stream means every message is done
        while int(client.xlen(f"{prefix}queue")) > 0:
            if proc.poll() is not None:
                raise RuntimeError("trawler exited during the round")
            time.sleep(0.01)
        elapsed = time.monotonic() - start
        verdicts = sum(1 for _ in client.scan_iter(match=f"{prefix}verdict:*", count=1000))
        quarantined = sum(1 for _ in mailboxes.glob("*/.Quarantine/*/*"))
        return {"workers": workers, "messages": count, "seconds": round(elapsed, 2),
                "enqueue_s": round(enqueued, 2), "msgs_per_s": round(count / elapsed, 1),
                "verdicts": verdicts, "quarantined": quarantined}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key)
        client.close()
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--messages", type=int, default=1500)
    ap.add_argument("--rounds", type=int, default=2, help="rounds per worker count")
    ap.add_argument("--redis", help="Redis URL (default: 127.0.0.1:6379, else a private one)")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="trawler-bench-workers-"))
    server = None
    url = args.redis
    if url is None:
        if redis_answers(*LOCAL_REDIS):
            url = f"redis://{LOCAL_REDIS[0]}:{LOCAL_REDIS[1]}/0"
        else:
            server = RedisServer(root / "redis")
            server.start()
            url = server.url
    try:
        runs = []
        for _ in range(args.rounds):
            for workers in (1, 2):
                run = one_round(url, workers, args.messages, root)
                print(json.dumps(run), file=sys.stderr)
                runs.append(run)
        best = {w: max(r["msgs_per_s"] for r in runs if r["workers"] == w) for w in (1, 2)}
        print(json.dumps({"cpus": os.cpu_count(), "load_avg_1m": os.getloadavg()[0],
                          "best_msgs_per_s": best, "ratio": round(best[2] / best[1], 2),
                          "runs": runs}, indent=2))
        return 0
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
