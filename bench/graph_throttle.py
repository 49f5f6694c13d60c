"""Graph throttling bench: N remediations across M mailboxes against the local Graph server.

The server (tests/servers/graph.py, in its own process) holds each mailbox request for
SERVICE_S seconds and answers 429 + Retry-After past 4 concurrent requests per mailbox.
Each removal costs two requests (find by internetMessageId, move) and each mailbox two
more once (quarantine folder lookup, create), so the fastest the limit allows is
ceil((2 * per_box + 2) / 4) * SERVICE_S, mailboxes running side by side.

Two runs: the backend alone (the protocol layer against the limit), and the full
Remediator with its SQLite records and audit lines (what the service does).

    python bench/graph_throttle.py [--mailboxes 50] [--per-mailbox 20] [--service-s 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.actions.remediate import Remediator, Request  # noqa: E402
from service.collectors.base import MessageIdentity  # noqa: E402
from service.collectors.graph_client import GraphSettings  # noqa: E402
from service.collectors.graph_mailbox import GraphMailboxBackend  # noqa: E402
from service.config import Remediation  # noqa: E402
from service.model import Severity  # noqa: E402
from service.state import open_store  # noqa: E402
from tests.conftest import free_port  # noqa: E402


def ident(n: int) -> MessageIdentity:
    return MessageIdentity(f"<p{n}@evil.test>", '"IT Helpdesk" <helpdesk@evil.test>',
                           "Password expiry notice", None)


async def run(boxes: int, per_box: int, service_s: float, full: bool) -> dict[str, object]:
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.servers.graph", str(port), str(service_s), str(boxes),
        str(per_box), stdout=asyncio.subprocess.PIPE,
        cwd=str(ROOT))
    assert server.stdout is not None
    assert (await server.stdout.readline()).strip() == b"READY"
    base = f"http://127.0.0.1:{port}"
    backend = GraphMailboxBackend(GraphSettings("tenant-1", "app-1", "secret-1",
                                                authority_url=base, graph_url=base + "/v1.0"))
    names = [f"user{b}@corp.example" for b in range(boxes)]
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/state.db")
        await store.open()
        await backend.client.token()  # the token round trip is not the mailbox limit
        started = time.perf_counter()
        if full:
            remediator = Remediator(backend, store, Remediation(retries=3), ("corp.example",))
            records = await asyncio.gather(*(remediator.remediate(Request(
                key=f"k{n}", alert_id=None, ident=ident(n), recipients=tuple(names), rules=(),
                severity=Severity.HIGH, received_at=time.time())) for n in range(per_box)))
            results = [r["result"] for rec in records for r in rec.values()]
        else:
            outcomes = await asyncio.gather(*(backend.quarantine(b, ident(n))
                                              for n in range(per_box) for b in names))
            results = [o.result.value for o in outcomes]
        elapsed = time.perf_counter() - started
        await store.close()
    await backend.close()
    server.terminate()
    stats = json.loads((await server.stdout.readline()) or b"{}")
    await server.wait()
    bound = math.ceil((2 * per_box + 2) / 4) * service_s
    return {"run": "remediator+sqlite" if full else "backend", "remediations": len(results),
            "removed": results.count("removed"), "failed": results.count("failed"),
            "elapsed_s": round(elapsed, 3), "limit_bound_s": round(bound, 3),
            "ratio": round(elapsed / bound, 3), "server": stats,
            "client_429_seen": backend.client.throttled}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mailboxes", type=int, default=50)
    p.add_argument("--per-mailbox", type=int, default=20)
    p.add_argument("--service-s", type=float, default=0.5)
    args = p.parse_args()
    for full in (False, True):
        print(json.dumps(asyncio.run(run(args.mailboxes, args.per_mailbox, args.service_s,
                                         full))))


if __name__ == "__main__":
    main()
