"""kill -9 a Redis-backed worker mid-batch, start it again: nothing lost, nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import redis
import yaml

from tests.mailgen import RULE, journal_report, phish
from tests.test_app import free_port, wait_for
from tests.test_pipeline import deliver, files

MESSAGES = 120
RECIPIENTS = ("amy@corp.example", "ben@corp.example")


def start(cfg: Path, cwd: Path, workers: int = 1) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAWLER_")}
    return subprocess.Popen(
        [sys.executable, "-m", "service.cli", "run", "--config", str(cfg),
         "--workers", str(workers)],
        cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)


def quarantined(mailboxes: Path) -> int:
    return sum(len(files(mailboxes / r / ".Quarantine")) for r in RECIPIENTS)


def test_kill9_mid_batch_then_restart(tmp_path: Path, redis_url: str) -> None:
    prefix = f"t-crash-{uuid.uuid4().hex[:8]}:"
    data = tmp_path / "data"
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "test.yar").write_text(RULE)
    cfg = tmp_path / "trawler.yaml"
    cfg.write_text(yaml.safe_dump({
        "data_root": str(data), "rules": str(rules),
        "state": f"{redis_url}?prefix={prefix}",
        "listen": f"127.0.0.1:{free_port()}",
        "organisation_domains": ["corp.example"],
        "reclaim_idle_s": 1.0, "concurrency": 4, "shutdown_grace_s": 5,
    }))
    mailboxes = data / "mailboxes"
    journal = data / "journal"
    for sub in ("cur", "new", "tmp"):
        (journal / sub).mkdir(parents=True)
    for i in range(MESSAGES):
        original = phish(f"<crash-{i}@evil.test>", to=", ".join(RECIPIENTS))
        for r in RECIPIENTS:
            deliver(mailboxes, r, original)
        report = journal_report(original, [f"To: {r}" for r in RECIPIENTS],
                                message_id=f"<crash-{i}@evil.test>")
        (journal / "new" / f"{i:04d}.eml").write_bytes(report)

    first = start(cfg, tmp_path)
    try:
        assert wait_for(lambda: quarantined(mailboxes) >= 10, 60), "never started removing"
        os.killpg(first.pid, signal.SIGKILL)  # no drain, no ack for what was in flight
        first.wait(10)
        at_kill = quarantined(mailboxes)
        assert at_kill < MESSAGES * len(RECIPIENTS), "batch finished before the kill"

        second = start(cfg, tmp_path)
        try:
            assert wait_for(lambda: quarantined(mailboxes) == MESSAGES * len(RECIPIENTS), 90)
            client = redis.Redis.from_url(redis_url)
            assert wait_for(lambda: _depth(client, prefix) == 0, 30), "queue not drained"
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0
    finally:
        if first.poll() is None:
            first.kill()

    client = redis.Redis.from_url(redis_url)
    try:
        verdict_keys = list(client.scan_iter(match=f"{prefix}verdict:*", count=1000))
        assert len(verdict_keys) == MESSAGES  # exactly one verdict per journal message
        for r in RECIPIENTS:
            # every copy left the inbox exactly once: one in quarantine, none behind
            assert files(mailboxes / r) == []
            names = [p.name for p in files(mailboxes / r / ".Quarantine")]
            assert len(names) == MESSAGES == len(set(names))
    finally:
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key)
        client.close()


def _depth(client: redis.Redis, prefix: str) -> int:
    # ack deletes the entry (XACK + XDEL), so the stream holds exactly what is unacked
    return int(client.xlen(f"{prefix}queue"))
