"""SMTP journal endpoint: durable before 250, a kill mid-reply loses nothing, limits, access."""

from __future__ import annotations

import asyncio
import os
import signal
import smtplib
import sys
import time
from pathlib import Path

import pytest

from service.collectors.smtp_journal import SmtpJournalCollector
from service.config import Settings
from service.engine import Engine
from service.pipeline import Pipeline
from service.state.base import QueueItem, Store
from tests.conftest import free_port
from tests.mailgen import RULE, THREE_RECIPIENTS, journal_report, phish

# The endpoint in a child process whose enqueue writes to SQLite, says so, and then
# never returns: the service "dies" between the durable write and the 250.
_CHILD = """
import asyncio, sys
from service.collectors.smtp_journal import SmtpJournalCollector
from service.state import open_store

async def main(db, port):
    store = open_store(f"sqlite:///{db}")
    await store.open()
    async def enqueue(item):
        await store.enqueue(item)
        print("ENQUEUED", flush=True)
        await asyncio.Event().wait()
    ep = SmtpJournalCollector("smtp", "127.0.0.1", int(port))
    task = asyncio.create_task(ep.run(enqueue, asyncio.Event()))
    await ep.listening.wait()
    print("LISTENING", flush=True)
    await task

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def send(port: int, raw: bytes, **login: str) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo()
        if login:
            client.starttls()
            client.ehlo()
            client.login(login["user"], login["password"])
        for reply in (client.mail("postmaster@corp.example"),
                      client.rcpt("journal@trawler.example")):
            if reply[0] != 250:
                return reply
        return client.data(raw)


class Running:
    def __init__(self, endpoint: SmtpJournalCollector, enqueue: object) -> None:
        self.endpoint = endpoint
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(endpoint.run(enqueue, self.stop))  # type: ignore[arg-type]

    async def __aenter__(self) -> int:
        await asyncio.wait_for(self.endpoint.listening.wait(), 5)
        assert self.endpoint.bound is not None
        return self.endpoint.bound[1]

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        await self.task


async def test_250_only_after_the_report_is_in_the_queue(store: Store) -> None:
    seen_at_250: list[int] = []

    async def enqueue(item: QueueItem) -> str:
        entry = await store.enqueue(item)
        seen_at_250.append(await store.queue_depth())
        return entry

    async with Running(SmtpJournalCollector("smtp", "127.0.0.1", 0), enqueue) as port:
        code, _ = await asyncio.to_thread(send, port, journal_report(phish(), THREE_RECIPIENTS))
    assert code == 250 and seen_at_250 == [1]
    [entry] = await store.consume("t", 5, 50)
    assert entry.item.collector == "smtp" and b"X-MS-Journal-Report" in entry.item.raw


async def test_store_failure_answers_451_not_250() -> None:
    async def broken(item: QueueItem) -> str:
        raise ConnectionError("store down")

    async with Running(SmtpJournalCollector("smtp", "127.0.0.1", 0), broken) as port:
        code, text = await asyncio.to_thread(send, port, phish())
    assert code == 451 and b"try again" in text


async def test_oversized_message_gets_552(store: Store) -> None:
    endpoint = SmtpJournalCollector("smtp", "127.0.0.1", 0, max_message_bytes=2048)
    async with Running(endpoint, store.enqueue) as port:
        code, _ = await asyncio.to_thread(send, port, phish(body=("y" * 70 + "\r\n") * 100))
    assert code == 552
    assert await store.queue_depth() == 0


async def test_client_outside_allowed_networks_is_refused(store: Store) -> None:
    endpoint = SmtpJournalCollector("smtp", "127.0.0.1", 0, allowed_networks=("10.0.0.0/8",))
    async with Running(endpoint, store.enqueue) as port:
        code, _ = await asyncio.to_thread(send, port, phish())
    assert code == 554
    assert await store.queue_depth() == 0


async def test_auth_after_starttls_lets_an_outside_client_deliver(
        store: Store, tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    proc = await asyncio.create_subprocess_exec(
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    assert await proc.wait() == 0
    users = tmp_path / "users"
    users.write_text("# journal senders\nexo:s3cret-journal\n")
    endpoint = SmtpJournalCollector("smtp", "127.0.0.1", 0, tls_cert_file=str(cert),
                                    tls_key_file=str(key), allowed_networks=(),
                                    auth_users_file=str(users))
    async with Running(endpoint, store.enqueue) as port:
        code, _ = await asyncio.to_thread(send, port, phish())  # no AUTH: refused
        assert code == 530
        code, _ = await asyncio.to_thread(send, port, phish(), user="exo",
                                          password="s3cret-journal")
    assert code == 250 and await store.queue_depth() == 1


async def test_kill_between_data_and_reply_loses_nothing_and_scans_once(
        store: Store, tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    port = free_port()
    repo = str(Path(__file__).parents[2])
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CHILD, str(db), str(port), stdout=asyncio.subprocess.PIPE,
        cwd=repo)
    assert child.stdout is not None
    assert (await asyncio.wait_for(child.stdout.readline(), 20)).strip() == b"LISTENING"
    report = journal_report(phish(), THREE_RECIPIENTS)
    sending = asyncio.create_task(asyncio.to_thread(send, port, report))
    # DATA is in and durably queued; the reply has not gone out: kill -9 now.
    assert (await asyncio.wait_for(child.stdout.readline(), 20)).strip() == b"ENQUEUED"
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    await child.wait()
    with pytest.raises(smtplib.SMTPServerDisconnected):
        await sending  # no 250: the sender keeps the message and retries

    # The service comes back; the sender's retry is accepted.
    async with Running(SmtpJournalCollector("smtp", "127.0.0.1", port), store.enqueue) as p:
        code, _ = await asyncio.to_thread(send, p, report)
    assert code == 250
    assert await store.queue_depth() == 2  # both copies are in the queue...

    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "test.yar").write_text(RULE)
    settings = Settings.model_validate({"data_root": str(tmp_path), "rules": str(rules),
                                        "organisation_domains": ["corp.example"],
                                        "remediation": {"mode": "off"}})
    engine = Engine(settings, store=store)
    engine.load_rules()
    scans = 0
    real_scan = engine.scan_parsed

    async def counting(*args: object, **kwargs: object) -> object:
        nonlocal scans
        scans += 1
        return await real_scan(*args, **kwargs)  # type: ignore[arg-type]

    engine.scan_parsed = counting  # type: ignore[assignment,method-assign]
    pipeline = Pipeline(settings, store, engine, None, "t1")
    for entry in await store.consume("t1", 10, 50):
        await pipeline.process(entry)
    # ...and the message is scanned once, with one verdict and one alert.
    assert scans == 1
    assert len(await store.list_alerts(10, 0)) == 1
    assert await store.queue_depth() == 0


async def test_trawler_check_names_a_missing_certificate_file(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "test.yar").write_text(RULE)
    missing = tmp_path / "tls" / "journal.crt"
    config = tmp_path / "trawler.yaml"
    config.write_text(
        f"data_root: {tmp_path}\nrules: {rules}\n"
        f"collectors:\n  - name: exo-journal\n    type: smtp\n    listen: 127.0.0.1:{free_port()}\n"
        f"    tls_cert_file: {missing}\n    tls_key_file: {tmp_path / 'key.pem'}\n")
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service.cli", "check", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={"PATH": "/usr/bin:/bin"})
    out, _ = await asyncio.wait_for(proc.communicate(), 40)
    text = out.decode()
    assert proc.returncode == 1, text
    [line] = [ln for ln in text.splitlines() if ln.startswith("FAIL")]
    assert line == (f"FAIL collector exo-journal (smtp): collectors[exo-journal]: "
                    f"tls_cert_file {missing}: No such file or directory")
    assert time.monotonic() - started < 40
