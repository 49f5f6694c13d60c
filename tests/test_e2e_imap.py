"""End to end on a real Dovecot: journal APPEND -> `trawler run` -> gone from every mailbox.

The service runs as a subprocess (`trawler run --config`, SQLite state in tmp), the
journal and the recipients' mailboxes live in a private Dovecot, and the test watches
the mailboxes from its own IMAP connections, as a user's mail client would. Shared
helpers (TrawlerImap, Watcher) are also used by bench/remediation_latency.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import imapclient
import pytest
import yaml

from tests.mailgen import RULE, THREE_RECIPIENTS, journal_report, phish
from tests.servers.dovecot import MASTER_PASSWORD, MASTER_USER, PASSWORD, DovecotServer
from tests.test_app import free_port, wait_for

JOURNAL_USER = "journal@corp.example"
JOURNAL_FOLDER = "INBOX"
QUARANTINE = "Quarantine"
TOKEN = "e2e-token-7f3a"
# Where each recipient's copy was delivered: carol filed hers away in a subfolder.
PLACES = {"bob@corp.example": "INBOX", "carol@corp.example": "Archive",
          "dave@corp.example": "INBOX"}
DECOY_USER = "erin@corp.example"
MESSAGES = 5  # several messages: the latency claim is judged on their median


def trawler_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAWLER_")}
    env.update(TRAWLER_JOURNAL_PASSWORD=PASSWORD, TRAWLER_MASTER_PASSWORD=MASTER_PASSWORD,
               TRAWLER_API_TOKEN=TOKEN)
    env.update(extra)
    return env


def imap_config(dovecot: DovecotServer, data: Path, rules: Path, state: str,
                **extra: Any) -> dict[str, Any]:
    """`trawler run --config` for an IMAP journal and IMAP mailboxes on `dovecot`."""
    return {
        "data_root": str(data), "rules": str(rules), "state": state,
        "listen": f"127.0.0.1:{free_port()}",
        "organisation_domains": ["corp.example"],
        "collectors": [{"name": "journal", "type": "imap", "host": dovecot.host,
                        "port": dovecot.port, "tls": "none", "username": JOURNAL_USER,
                        "password_env": "TRAWLER_JOURNAL_PASSWORD",
                        "folder": JOURNAL_FOLDER, "poll_interval_s": 0.02}],
        "mailboxes": {"type": "imap", "host": dovecot.host, "port": dovecot.port,
                      "tls": "none", "master_user": MASTER_USER,
                      "master_password_env": "TRAWLER_MASTER_PASSWORD",
                      "quarantine_folder": QUARANTINE, "pool_size": 8},
        "remediation": {"retries": 3, "retry_backoff_s": 0.05},
        "shutdown_grace_s": 5,
        **extra,
    }


def write_rules(root: Path) -> Path:
    rules = root / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "test.yar").write_text(RULE)
    return rules


def start_trawler(cfg: Path, cwd: Path, *args: str,
                  log: Path | None = None) -> subprocess.Popen[bytes]:
    out = log.open("ab") if log else None
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "service.cli", "run", "--config", str(cfg), *args],
            cwd=Path(__file__).resolve().parent.parent, env=trawler_env(),
            stdout=out or subprocess.DEVNULL, stderr=subprocess.STDOUT,
            start_new_session=True)
    finally:
        if out is not None:
            out.close()  # the child holds its own descriptor


def stop_trawler(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait(10)


def http(method: str, url: str, token: str | None = TOKEN) -> tuple[int, Any]:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except OSError:
        return 0, None


class Watcher:
    """Logged-in sessions that count copies of a Message-ID per (user, folder), fast."""

    def __init__(self, dovecot: DovecotServer) -> None:
        self.dovecot = dovecot
        self._clients: dict[str, imapclient.IMAPClient] = {}

    def _client(self, user: str) -> imapclient.IMAPClient:
        client = self._clients.get(user)
        if client is None:
            client = imapclient.IMAPClient(self.dovecot.host, self.dovecot.port, ssl=False,
                                           timeout=10)
            client.login(f"{user}*{MASTER_USER}", MASTER_PASSWORD)
            self._clients[user] = client
        return client

    def count(self, user: str, folder: str, message_id: str, sender: str | None = None) -> int:
        client = self._client(user)
        if not client.folder_exists(folder):
            return 0
        client.select_folder(folder, readonly=True)
        criteria: list[Any] = ["HEADER", "Message-ID", message_id]
        if sender:
            criteria += ["FROM", sender]
        return len(client.search(criteria))

    def close(self) -> None:
        for client in self._clients.values():
            try:
                client.logout()
            except Exception:  # the server went away under it: still free the socket
                with contextlib.suppress(Exception):
                    client.shutdown()
        self._clients.clear()


def deliver_phish(dovecot: DovecotServer, n: int, tag: str,
                  append: Callable[[str, str, bytes], object] | None = None,
                  ) -> tuple[str, bytes]:
    """Put phish n in each recipient's mailbox; return its Message-ID and journal report."""
    message_id = f"<{tag}-{n}-{time.monotonic_ns()}@evil.test>"
    original = phish(message_id, to="bob@corp.example, dave@corp.example")
    for user, folder in PLACES.items():
        (append or dovecot.append)(user, folder, original)
    return message_id, journal_report(original, THREE_RECIPIENTS, message_id=message_id)


@pytest.fixture(scope="module")
def dovecot() -> Iterator[DovecotServer]:
    server = DovecotServer()
    server.start()
    for user in (JOURNAL_USER, *PLACES, DECOY_USER):
        server.add_user(user)
    yield server
    server.cleanup()


@pytest.fixture
def watcher(dovecot: DovecotServer) -> Iterator[Watcher]:
    w = Watcher(dovecot)
    yield w
    w.close()


def test_phish_for_three_is_gone_within_a_second_and_restores(
        dovecot: DovecotServer, watcher: Watcher, tmp_path: Path) -> None:
    rules = write_rules(tmp_path)
    settings = imap_config(dovecot, tmp_path / "data", rules,
                           f"sqlite:///{tmp_path / 'state.db'}")
    cfg = tmp_path / "trawler.yaml"
    cfg.write_text(yaml.safe_dump(settings))
    base = f"http://{settings['listen']}"
    log = tmp_path / "trawler.log"
    proc = start_trawler(cfg, tmp_path, log=log)
    try:
        assert wait_for(lambda: http("GET", base + "/readyz", None)[0] == 200, 30), \
            log.read_text()[-3000:]
        elapsed: list[float] = []
        ids: list[str] = []
        for n in range(MESSAGES):
            message_id, report = deliver_phish(dovecot, n, "e2e")
            ids.append(message_id)
            t0 = time.monotonic()
            dovecot.append(JOURNAL_USER, JOURNAL_FOLDER, report)
            appended = time.monotonic()

            def gone(mid: str = message_id) -> bool:
                return all(watcher.count(u, f, mid) == 0 for u, f in PLACES.items())

            assert wait_for(gone, 10), f"message {n} still in a mailbox\n{log.read_text()}"
            elapsed.append(time.monotonic() - appended)
            assert appended - t0 < 0.5  # the APPEND itself is not what we measure
        median = statistics.median(elapsed)
        print(f"journal APPEND -> gone from 3 mailboxes: median {median * 1000:.0f} ms, "
              f"max {max(elapsed) * 1000:.0f} ms, all {[round(e * 1000) for e in elapsed]}")
        assert median < 1.0, elapsed
        for mid in ids:  # in each one's quarantine, exactly once
            for user in PLACES:
                assert watcher.count(user, QUARANTINE, mid) == 1, (user, mid)

        status, body = http("GET", base + "/v1/alerts?limit=500")
        assert status == 200
        alerts = {a["message_id"]: a for a in body["alerts"]}
        assert set(ids) <= set(alerts)

        # A second journal report of the first message (Exchange sends several) adds
        # erin; her mailbox holds only a decoy: same Message-ID, another sender.
        decoy = phish(ids[0], sender="Payroll <payroll@corp.example>")
        dovecot.append(DECOY_USER, "INBOX", decoy)
        dovecot.append(JOURNAL_USER, JOURNAL_FOLDER, journal_report(
            phish(ids[0], to="bob@corp.example, dave@corp.example"),
            [f"To: {DECOY_USER}"], message_id=ids[0]))
        alert_id = alerts[ids[0]]["id"]

        def erin_recorded() -> bool:
            _, alert = http("GET", f"{base}/v1/alerts/{alert_id}")
            return DECOY_USER in (alert or {}).get("remediation", {})

        assert wait_for(erin_recorded, 10)
        _, alert = http("GET", f"{base}/v1/alerts/{alert_id}")
        assert alert["remediation"][DECOY_USER]["result"] == "not_found"
        assert watcher.count(DECOY_USER, "INBOX", ids[0]) == 1
        assert watcher.count(DECOY_USER, QUARANTINE, ids[0]) == 0
        for user in PLACES:  # the merge did not move the others a second time
            assert alert["remediation"][user]["result"] == "removed"

        # Restore one alert from the command line...
        cli = subprocess.run(
            [sys.executable, "-m", "service.cli", "restore", alert_id, "--config", str(cfg)],
            cwd=Path(__file__).resolve().parent.parent, env=trawler_env(),
            capture_output=True, timeout=60)
        assert cli.returncode == 0, cli.stderr.decode()[-2000:]
        for user, folder in PLACES.items():
            assert f"restored   {user}" in cli.stdout.decode()
            assert watcher.count(user, folder, ids[0]) == 1, (user, folder)
            assert watcher.count(user, QUARANTINE, ids[0]) == 0
        assert watcher.count(DECOY_USER, "INBOX", ids[0]) == 1

        # ...and another through the API.
        second = alerts[ids[1]]["id"]
        assert http("POST", f"{base}/v1/alerts/{second}/restore", None)[0] == 401
        status, body = http("POST", f"{base}/v1/alerts/{second}/restore")
        assert status == 200, body
        assert body["restored"] == dict.fromkeys(PLACES, "restored")
        for user, folder in PLACES.items():
            assert watcher.count(user, folder, ids[1]) == 1, (user, folder)
            assert watcher.count(user, QUARANTINE, ids[1]) == 0
        for mid in ids[2:]:  # the others stay quarantined
            for user, folder in PLACES.items():
                assert watcher.count(user, folder, mid) == 0
                assert watcher.count(user, QUARANTINE, mid) == 1
    finally:
        code = stop_trawler(proc)
    assert code == 0, log.read_text()[-3000:]
    assert PASSWORD not in log.read_text() and MASTER_PASSWORD not in log.read_text()


def run_check(cfg: Path, **env: str) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "service.cli", "check", "--config", str(cfg)],
        cwd=Path(__file__).resolve().parent.parent, env=trawler_env(**env),
        capture_output=True, timeout=60)
    return proc.returncode, (proc.stdout + proc.stderr).decode()


@pytest.mark.parametrize("case", ["good", "journal_password", "unreachable", "master_password",
                                  "check_mailbox"])
def test_check_names_what_is_wrong(dovecot: DovecotServer, tmp_path: Path, case: str) -> None:
    settings = imap_config(dovecot, tmp_path / "data", write_rules(tmp_path),
                           f"sqlite:///{tmp_path / 'state.db'}")
    env: dict[str, str] = {}
    if case == "journal_password":
        env["TRAWLER_JOURNAL_PASSWORD"] = "wrong-journal-pw"
    elif case == "master_password":
        env["TRAWLER_MASTER_PASSWORD"] = "wrong-master-pw"
    elif case == "unreachable":
        dead = free_port()  # nothing listens there
        settings["collectors"][0]["port"] = dead
        settings["mailboxes"]["port"] = dead
    elif case == "check_mailbox":  # explicit mailbox, and the master password is wrong
        settings["mailboxes"]["check_mailbox"] = "bob@corp.example"
        env["TRAWLER_MASTER_PASSWORD"] = "wrong-master-pw"
    cfg = tmp_path / "trawler.yaml"
    cfg.write_text(yaml.safe_dump(settings))
    code, out = run_check(cfg, **env)
    print(out)
    [journal] = [line for line in out.splitlines() if " collector journal (imap)" in line]
    [mailboxes] = [line for line in out.splitlines() if " mailboxes (imap)" in line]
    assert "wrong-journal-pw" not in out and "wrong-master-pw" not in out
    assert PASSWORD not in out and MASTER_PASSWORD not in out
    if case == "good":
        assert code == 0, out
        assert journal.startswith("ok") and mailboxes.startswith("ok")
        return
    assert code == 1, out
    if case == "journal_password":
        assert journal.startswith("FAIL") and "login refused" in journal
        assert JOURNAL_USER in journal
        assert mailboxes.startswith("ok")  # the master login is fine
    elif case == "unreachable":
        for line in (journal, mailboxes):
            assert line.startswith("FAIL") and "cannot connect" in line, line
            assert f"127.0.0.1:{settings['mailboxes']['port']}" in line
            assert "connection refused" in line
    else:
        who = "bob@corp.example" if case == "check_mailbox" else JOURNAL_USER
        assert journal.startswith("ok")
        assert mailboxes.startswith("FAIL") and "login refused" in mailboxes
        assert f"{who}*{MASTER_USER}" in mailboxes
