"""Run a scanner's parsing of one attachment in the killable process pool.

A pool timeout or crash becomes a finding on that attachment, not an exception, so one
hostile file costs its own analysis and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from service import procpool
from service.model import Attachment, Code, Finding, Severity, bounded_evidence
from service.scanners.base import ScanContext

# What pool-side analysers return: (code, severity, evidence) triples of plain values.
Events = tuple[tuple[str, str, tuple[str, ...]], ...]


async def analyse(scanner: str, ctx: ScanContext, att: Attachment,
                  fn: Callable[..., Events], *args: Any) -> tuple[Events, list[Finding]]:
    pool = procpool.shared_pool(ctx.limits.pool_workers)
    try:
        events = await pool.run(fn, att.data, *args, timeout=ctx.limits.scanner_timeout_s)
    except procpool.PoolTimeout:
        return (), [Finding(scanner=scanner, code=Code.SCANNER_TIMEOUT,
                            severity=Severity.INFO, part=att.part_id)]
    except procpool.PoolError as exc:
        return (), [Finding(scanner=scanner, code=Code.SCANNER_ERROR, severity=Severity.INFO,
                            part=att.part_id, evidence=bounded_evidence([str(exc)]))]
    return events, []
