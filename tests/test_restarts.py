"""Restart Dovecot or Redis under a running `trawler run`: nothing is lost, nothing moves twice.

"Loses nothing" is judged where users would notice: every phish appended to the journal
before, during or after the restart ends up out of every recipient's folder and in
quarantine exactly once, each message has one verdict and one alert, and the queue
drains. A Redis without persistence loses its queue on restart by design, so the Redis
here runs as production should: appendonly yes, appendfsync always; it is killed with
SIGKILL (a crash, not a polite shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import imapclient
import pytest
import redis
import yaml

from service.state import open_store
from tests.conftest import RedisServer, free_port
from tests.servers.dovecot import MASTER_PASSWORD, MASTER_USER, DovecotServer
from tests.test_app import wait_for
from tests.test_e2e_imap import (
    DECOY_USER,
    JOURNAL_FOLDER,
    JOURNAL_USER,
    PLACES,
    QUARANTINE,
    Watcher,
    deliver_phish,
    http,
    imap_config,
    start_trawler,
    stop_trawler,
    write_rules,
)

PER_PHASE = 8  # messages before, during and after the restart


class PersistentRedis(RedisServer):
    """A private redis-server with an fsync-always AOF, as Trawler's Redis should run."""

    persistence = ("--appendonly", "yes", "--appendfsync", "always")

    def crash(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)


@pytest.fixture
def dovecot() -> Iterator[DovecotServer]:
    server = DovecotServer()
    server.start()
    for user in (JOURNAL_USER, *PLACES, DECOY_USER):
        server.add_user(user)
    yield server
    server.cleanup()


class Feeder:
    """Delivers phish and appends their journal reports, retrying while Dovecot is away."""

    def __init__(self, dovecot: DovecotServer) -> None:
        self.dovecot = dovecot
        self.ids: list[str] = []
        self.retries = 0

    def _append(self, user: str, folder: str, raw: bytes) -> None:
        client = imapclient.IMAPClient(self.dovecot.host, self.dovecot.port, ssl=False,
                                       timeout=5)
        try:
            client.login(f"{user}*{MASTER_USER}", MASTER_PASSWORD)
            if not client.folder_exists(folder):
                client.create_folder(folder)
            client.append(folder, raw)
            client.logout()
        finally:
            with contextlib.suppress(Exception):
                client.shutdown()  # also when Dovecot went away mid-command

    def one(self) -> None:
        n = len(self.ids)
        while True:
            try:
                message_id, report = deliver_phish(self.dovecot, n, "restart",
                                                   append=self._append)
                self._append(JOURNAL_USER, JOURNAL_FOLDER, report)
                break
            except Exception:
                # Dovecot is restarting: a user's client would retry, so do we. A
                # half-delivered message is delivered again under a new Message-ID.
                self.retries += 1
                time.sleep(0.05)
        self.ids.append(message_id)

    def many(self, count: int, every_s: float = 0.0) -> None:
        for _ in range(count):
            self.one()
            time.sleep(every_s)


def all_settled(watcher: Watcher, ids: list[str]) -> bool:
    return all(watcher.count(u, f, mid) == 0 and watcher.count(u, QUARANTINE, mid) == 1
               for mid in ids for u, f in PLACES.items())


def assert_exactly_once(watcher: Watcher, ids: list[str]) -> None:
    for mid in ids:
        for user, folder in PLACES.items():
            assert watcher.count(user, folder, mid) == 0, (user, folder, mid)
            assert watcher.count(user, QUARANTINE, mid) == 1, (user, mid)


async def store_summary(url: str) -> tuple[dict[str, int], dict[str, dict[str, Any]]]:
    """Alerts per Message-ID and each alert's remediation records, read from the store."""
    store = open_store(url)
    await store.open()
    try:
        alerts = await store.list_alerts(500, 0)
        per_mid: dict[str, int] = {}
        records: dict[str, dict[str, Any]] = {}
        for alert in alerts:
            mid = str(alert["message_id"])
            per_mid[mid] = per_mid.get(mid, 0) + 1
            records[mid] = await store.get_remediations(alert["key"])
        return per_mid, records
    finally:
        await store.close()


def check_store(url: str, ids: list[str]) -> None:
    per_mid, records = asyncio.run(store_summary(url))
    assert sorted(per_mid) == sorted(ids)  # one alert per message, none missing
    assert set(per_mid.values()) == {1}
    for mid in ids:
        assert {r: rec["result"] for r, rec in records[mid].items()} == dict.fromkeys(
            PLACES, "removed"), (mid, records[mid])


def run_phases(dovecot: DovecotServer, tmp_path: Path, state: str,
               restart: Any) -> tuple[list[str], float]:
    """Before / during / after `restart()`; returns the Message-IDs and catch-up time."""
    settings = imap_config(dovecot, tmp_path / "data", write_rules(tmp_path), state,
                           reclaim_idle_s=2.0)
    cfg = tmp_path / "trawler.yaml"
    cfg.write_text(yaml.safe_dump(settings))
    log = tmp_path / "trawler.log"
    proc = start_trawler(cfg, tmp_path, log=log)
    watcher = Watcher(dovecot)
    feeder = Feeder(dovecot)
    try:
        base = f"http://{settings['listen']}"
        assert wait_for(lambda: http("GET", base + "/readyz", None)[0] == 200, 30), \
            log.read_text()[-3000:]
        feeder.many(PER_PHASE)
        # During: the feeder keeps appending while the server goes away and comes back.
        during = threading.Thread(target=feeder.many, args=(PER_PHASE, 0.05))
        during.start()
        time.sleep(0.1)
        restart()
        during.join(60)
        restarted = time.monotonic()
        watcher.close()  # its sessions died with Dovecot, if Dovecot was restarted
        feeder.many(PER_PHASE)
        assert wait_for(lambda: all_settled(watcher, feeder.ids), 45), \
            log.read_text()[-4000:]
        caught_up = time.monotonic() - restarted
        assert_exactly_once(watcher, feeder.ids)
        assert proc.poll() is None, "trawler died"
    finally:
        watcher.close()
        code = stop_trawler(proc)
    assert code == 0, log.read_text()[-3000:]
    return feeder.ids, caught_up


def hard_restart(dovecot: DovecotServer) -> None:
    """Stop Dovecot and everything it ran (stop() cuts every session), then start it."""
    dovecot.stop()
    time.sleep(0.5)  # down for a while, as a real restart is
    dovecot.start()


def test_dovecot_restart_mid_run_loses_nothing(dovecot: DovecotServer, tmp_path: Path) -> None:
    state = f"sqlite:///{tmp_path / 'state.db'}"
    ids, caught_up = run_phases(dovecot, tmp_path, state, lambda: hard_restart(dovecot))
    print(f"dovecot restart: {len(ids)} messages, caught up {caught_up:.2f}s after restart")
    assert len(ids) == 3 * PER_PHASE
    check_store(state, ids)


def test_redis_crash_mid_run_loses_nothing(dovecot: DovecotServer, tmp_path: Path) -> None:
    server = PersistentRedis(tmp_path / "redis", port=free_port())
    server.start()
    prefix = f"t-restart-{uuid.uuid4().hex[:8]}:"
    state = f"{server.url}?prefix={prefix}"

    def crash_and_restart() -> None:
        server.crash()
        time.sleep(1.0)  # long enough for consume, enqueue and remediation writes to fail
        server.start()

    try:
        ids, caught_up = run_phases(dovecot, tmp_path, state, crash_and_restart)
        print(f"redis crash: {len(ids)} messages, caught up {caught_up:.2f}s after restart")
        check_store(state, ids)
        client = redis.Redis.from_url(server.url)
        with contextlib.closing(client):
            assert int(client.xlen(f"{prefix}queue")) == 0  # nothing left unacked
            verdicts = list(client.scan_iter(match=f"{prefix}verdict:*", count=1000))
            assert len(verdicts) == len(ids)
    finally:
        server.stop()
