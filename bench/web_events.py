"""Web-event ingestion rate with a 100,000-URL index: parser + matcher, and over HTTP.

    python bench/web_events.py [--urls 100000] [--events 200000] [--hit-rate 0.01]

Builds the URL index in a SQLite store (as the pipeline would for 100,000 distinct
links), then feeds JSON-lines proxy events: a `hit-rate` share points at indexed
links (recipients of those messages, so each hit is recorded), the rest at other
sites. Prints events/s for (1) parse + match in process and (2) POST /v1/events/web
in 10,000-line batches through the real aiohttp app. Target: >= 20,000 events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from service.actions.clicks import MSG_KIND, EventRecorder, UrlIndex
from service.actions.weblogs import Users, parse_web
from service.api import build_app
from service.config import Settings
from service.rules import RuleLibrary
from service.state.base import Store
from service.state.sqlite import SqliteStore

TOKEN = "bench-token"
BATCH = 10_000


async def build_index(store: Store, urls: int) -> list[tuple[str, str]]:
    """(url, recipient) per indexed link; 10 links per message."""
    links = []
    for m in range(urls // 10):
        key = f"k{m:08d}"
        user = f"user{m % 12000}@corp.example"
        await store.put_record(MSG_KIND, key, {"key": key, "recipients": [user],
                                               "received_at": time.time()}, ttl_s=86400)
        entries = []
        for i in range(10):
            url = f"https://h{m % 5000}.example-{m % 7}.test/p/{m}/{i}?id={m * 10 + i}"
            entries += [(f"u:{url}", key), (f"p:h{m % 5000}.example-{m % 7}.test/p/{m}/{i}",
                                            key)]
            links.append((url, user))
        await store.index_add(entries, 86400)
    return links


def events(links: list[tuple[str, str]], n: int, hit_rate: float) -> list[bytes]:
    rng = random.Random(7)
    out = []
    now = time.time()
    for i in range(n):
        if rng.random() < hit_rate:
            url, user = rng.choice(links)
            user = "CORP\\" + user.partition("@")[0]
        else:
            url = f"https://www.site{rng.randrange(50_000)}.test/a/{i}?q={rng.random()}"
            user = f"CORP\\user{rng.randrange(12000)}"
        out.append(json.dumps({"ts": now - rng.random() * 3600, "user": user, "url": url,
                               "method": "GET", "status": 200,
                               "client_ip": "10.1.2.3"}).encode())
    return out


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "state.db", synchronous="NORMAL")
        await store.open()
        t0 = time.perf_counter()
        links = await build_index(store, args.urls)
        index = UrlIndex(store, refresh_s=3600)
        await index.refresh()
        print(f"index: {len(links):,} URLs, {len(index.tokens):,} tokens, built and loaded "
              f"in {time.perf_counter() - t0:.1f}s")
        lines = events(links, args.events, args.hit_rate)
        bodies = [b"\n".join(lines[i:i + BATCH]) for i in range(0, len(lines), BATCH)]

        recorder = EventRecorder(store, index, Users("corp.example"))
        t0 = time.perf_counter()
        matched = 0
        for body in bodies:
            evs, _ = parse_web(body, "json")
            matched += (await recorder.ingest_web(evs))["matched"]
        rate = len(lines) / (time.perf_counter() - t0)
        print(f"in process: {len(lines):,} events, {matched:,} matched, {rate:,.0f} events/s")

        settings = Settings.model_validate({"data_root": tmp, "rules": tmp,
                                            "organisation_domains": ["corp.example"]})
        app = build_app(settings, store, RuleLibrary(tmp), None, TOKEN, index_refresh_s=3600)
        async with TestClient(TestServer(app)) as client:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            await client.post("/v1/events/web", data=b"", headers=headers)  # loads the index
            t0 = time.perf_counter()
            matched = 0
            for body in bodies:
                resp = await client.post("/v1/events/web", data=body, headers=headers)
                matched += (await resp.json())["matched"]
            rate = len(lines) / (time.perf_counter() - t0)
        print(f"over HTTP:  {len(lines):,} events, {matched:,} matched (already recorded ones "
              f"count as matched), {rate:,.0f} events/s (target >= 20,000)")
        await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--hit-rate", type=float, default=0.01)
    asyncio.run(main(parser.parse_args()))
