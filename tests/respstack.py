"""The embedded stack (SQLite + Maildir) with the HTTP API in front, for response-loop tests."""

from __future__ import annotations

import base64
import hashlib
import os
import time
from email.utils import formatdate
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from service.api import build_app
from service.pipeline import alert_id_for, dedup_key
from service.state.base import QueueItem, Store
from tests.mailgen import journal_report
from tests.test_pipeline import Stack, deliver

TOKEN = "test-token-0f3a9c"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FIVE = tuple(f"{n}@corp.example" for n in ("alice", "bob", "carol", "dave", "erin"))
ATTACHMENT = b"%PDF-1.4\n% invoice statement for your account\n%%EOF\n"
ATTACHMENT_SHA = hashlib.sha256(ATTACHMENT).hexdigest()


def message(message_id: str, subject: str, body: str, sender: str = "helpdesk@evil.test",
            to: str = "alice@corp.example", attachment: bytes | None = None) -> bytes:
    head = (f"From: <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Date: {formatdate(1_700_000_000)}\r\nMessage-ID: {message_id}\r\n"
            "MIME-Version: 1.0\r\n")
    if attachment is None:
        return (head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n").encode()
    data = base64.encodebytes(attachment).decode().replace("\n", "\r\n")
    return (head + 'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\n'
            "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n--B\r\n"
            'Content-Type: application/pdf; name="statement.pdf"\r\n'
            'Content-Disposition: attachment; filename="statement.pdf"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n" + data + "--B--\r\n").encode()


PHISH = message("<camp-0@evil.test>", "Password expiry notice",
                "Your password expires today. Verify your account now at "
                "https://login.corp-verify.test/owa/verify?u=1 or lose access.",
                attachment=ATTACHMENT)


def report(raw: bytes, recipients: tuple[str, ...], message_id: str, subject: str,
           sender: str = "helpdesk@evil.test") -> bytes:
    return journal_report(raw, [f"To: {r}" for r in recipients], sender=sender,
                          message_id=message_id, subject=subject)


class ApiStack(Stack):
    """Stack + journal Maildir + an aiohttp test client on the real app."""

    def __init__(self, tmp: Path, store: Store) -> None:
        super().__init__(tmp, store)
        self.journal = tmp / "journal"
        for sub in ("cur", "new", "tmp"):
            (self.journal / sub).mkdir(parents=True, exist_ok=True)
        app = build_app(self.settings, store, self.pipeline.engine.rules, self.remediator,
                        TOKEN, pipeline=self.pipeline, index_refresh_s=0.0)
        self.client = TestClient(TestServer(app))

    async def __aenter__(self) -> ApiStack:
        await self.client.start_server()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.pipeline.sinks.drain()
        await self.client.close()

    async def arrive(self, raw: bytes, recipients: tuple[str, ...], message_id: str,
                     subject: str, sender: str = "helpdesk@evil.test",
                     age_s: float = 0.0) -> str:
        """Deliver to every mailbox, write the journal copy, run the pipeline; the key."""
        for r in recipients:
            deliver(self.mailboxes, r, raw)
        rep = report(raw, recipients, message_id, subject, sender)
        path = self.journal / "cur" / f"{time.time_ns()}.j,T=trawler:2,S"
        path.write_bytes(rep)
        if age_s:
            when = time.time() - age_s
            os.utime(path, (when, when))
        await self.store.enqueue(QueueItem("journal", rep, time.time() - age_s, path.name))
        await self.run_once()
        return dedup_key(self.pipeline.engine.parse(rep))

    def alert_id(self, key: str) -> str:
        return alert_id_for(key)
