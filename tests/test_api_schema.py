"""schemathesis against /openapi.json of a live app: no 5xx, every response fits the schema.

The app (embedded stack: SQLite + Maildir, with one alert in it) runs on its own event
loop in a thread, because schemathesis calls it synchronously over real HTTP.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings
from schemathesis import checks

from service.api import build_app
from service.state import open_store
from service.state.base import QueueItem
from tests.conftest import free_port
from tests.respstack import FIVE, PHISH, TOKEN, report
from tests.test_pipeline import Stack, deliver


class LiveApp:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        self.loop.run_until_complete(self._serve())
        self.loop.close()

    async def _serve(self) -> None:
        self.stop = asyncio.Event()
        store = open_store(f"sqlite:///{self.tmp / 'state.db'}")
        await store.open()
        stack = Stack(self.tmp, store)
        for r in FIVE:
            deliver(stack.mailboxes, r, PHISH)
        await store.enqueue(QueueItem("journal", report(PHISH, FIVE, "<camp-0@evil.test>",
                                                        "Password expiry notice"), 0.0, "1"))
        await stack.run_once()
        runner = web.AppRunner(build_app(stack.settings, store, stack.pipeline.engine.rules,
                                         stack.remediator, TOKEN, pipeline=stack.pipeline))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self.ready.set()
        await self.stop.wait()
        await runner.cleanup()
        await stack.pipeline.sinks.drain()
        await store.close()

    def __enter__(self) -> LiveApp:
        self.thread.start()
        assert self.ready.wait(30), "app did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.stop is not None
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(30)


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with LiveApp(tmp_path_factory.mktemp("schema")) as app:
        yield schemathesis.openapi.from_url(f"http://127.0.0.1:{app.port}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


# What the issue asks: no server error, and no response outside the schema (status code,
# content type, body, headers, 405 with Allow). Whether every schema-violating request is
# rejected (negative_data_rejection) is not asked: unknown query parameters are ignored.
CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_schema_conformance,
          checks.response_headers_conformance, checks.unsupported_method]


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_openapi(case: Any) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)
