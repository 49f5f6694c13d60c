"""Retro-hunt: re-read the last N days of the journal and act on what matches now.

Runs as a background job when indicators or rules change (a malicious disposition
starts one). The journal mailbox is the archive: messages are re-read from it, never
copied elsewhere. Each message goes through `Pipeline.rescan`, so a hit gets the same
alert, remediation and sinks as a live one. Progress is a store record (kind
`retrohunt`), shown by `GET /v1/retrohunt/{id}` and the retro-hunt metrics.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable

from service import metrics
from service.collectors.journal_archive import Archived, read_since
from service.config import Settings
from service.pipeline import Pipeline
from service.state.base import JSON, Store
from service.wiring import collector_configs

log = logging.getLogger(__name__)

JOB_KIND = "retrohunt"
MAX_DAYS = 90
Reader = Callable[[float], AsyncIterator[tuple[str, Archived]]]


class RetroHunter:
    def __init__(self, settings: Settings, store: Store, pipeline: Pipeline,
                 reader: Reader | None = None) -> None:
        self.settings = settings
        self.store = store
        self.pipeline = pipeline
        self.reader = reader or self._journals
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def _journals(self, since: float) -> AsyncIterator[tuple[str, Archived]]:
        for cfg in collector_configs(self.settings):
            if cfg.type not in ("maildir", "imap"):
                continue
            async for item in read_since(cfg, since):
                yield cfg.name, item

    async def start(self, days: int | None = None, reason: str = "", actor: str = "api") -> JSON:
        days = self.settings.response.retrohunt_days if days is None else days
        if not 1 <= days <= MAX_DAYS:
            raise ValueError(f"days must be between 1 and {MAX_DAYS}")
        job_id = "RH-" + uuid.uuid4().hex[:12]
        job: JSON = {"id": job_id, "state": "running", "days": days, "reason": reason[:300],
                     "actor": actor, "started_at": time.time(), "finished_at": None,
                     "scanned": 0, "flagged": 0, "remediated": 0, "errors": 0, "alerts": []}
        await self.store.put_record(JOB_KIND, job_id, job)
        task = asyncio.create_task(self._run(job), name=job_id)
        self._tasks[job_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(job_id, None))
        return job

    async def wait(self, job_id: str, timeout_s: float = 60.0) -> JSON | None:
        task = self._tasks.get(job_id)
        if task is not None:
            await asyncio.wait_for(asyncio.shield(task), timeout_s)
        return await self.store.get_record(JOB_KIND, job_id)

    async def close(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def _run(self, job: JSON) -> None:
        metrics.RETROHUNT_RUNNING.inc()
        since = time.time() - job["days"] * 86400
        self.pipeline.engine.ctx.indicators.invalidate()
        last_save = time.monotonic()
        try:
            async for collector, item in self.reader(since):
                await self._one(job, collector, item)
                if time.monotonic() - last_save > 1.0:
                    last_save = time.monotonic()
                    await self.store.put_record(JOB_KIND, job["id"], job)
            job["state"] = "done"
        except asyncio.CancelledError:
            job["state"] = "cancelled"
            raise
        except Exception as exc:
            job["state"] = "failed"
            job["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
            log.error("retro-hunt %s failed: %s", job["id"], job["error"])
        finally:
            metrics.RETROHUNT_RUNNING.dec()
            job["finished_at"] = time.time()
            await asyncio.shield(self.store.put_record(JOB_KIND, job["id"], job))
            log.info("retro-hunt %s %s: %d scanned, %d flagged, %d remediated", job["id"],
                     job["state"], job["scanned"], job["flagged"], job["remediated"])

    async def _one(self, job: JSON, collector: str, item: Archived) -> None:
        try:
            alert = await self.pipeline.rescan(item.raw, item.received_at, collector,
                                               found_by=f"retrohunt:{job['id']}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            job["errors"] += 1
            metrics.RETROHUNT_MESSAGES.labels("error").inc()
            log.warning("retro-hunt %s: %s failed: %s", job["id"], item.ref, type(exc).__name__)
            return
        job["scanned"] += 1
        metrics.RETROHUNT_MESSAGES.labels("scanned").inc()
        if alert is None:
            return
        job["flagged"] += 1
        metrics.RETROHUNT_MESSAGES.labels("flagged").inc()
        if alert["id"] not in job["alerts"] and len(job["alerts"]) < 1000:
            job["alerts"].append(alert["id"])
        removed = [r for r in (alert.get("remediation") or {}).values()
                   if r.get("result") == "removed"]
        if removed:
            job["remediated"] += 1
            metrics.RETROHUNT_MESSAGES.labels("remediated").inc()
