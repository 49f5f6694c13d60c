"""The running service: collectors, pipeline, rule reloads and HTTP, with a clean drain.

SIGTERM stops intake first, lets in-flight messages finish within the grace period,
then cancels what is left; anything not acked is redelivered on the next start.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from contextlib import suppress
from pathlib import Path

from aiohttp import web

from service import logs, metrics
from service.actions.remediate import Remediator
from service.api import api_token, build_app
from service.collectors.base import JournalCollector, MailboxBackend
from service.config import CollectorConfig, ConfigError, Settings
from service.engine import Engine
from service.pipeline import Pipeline
from service.rules import RuleError, RuleLibrary
from service.state import open_store
from service.state.base import QueueItem, Store
from service.wiring import (
    build_backend,
    build_collector,
    build_smtp,
    collector_configs,
    mailboxes_dir,
)

log = logging.getLogger(__name__)


def split_hostport(value: str, default_port: int) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep:
        return value, default_port
    try:
        return host.strip("[]") or "0.0.0.0", int(port)
    except ValueError:
        raise ConfigError(f"listen: {value!r} is not HOST:PORT") from None


def prepare_data_root(settings: Settings) -> None:
    root = Path(settings.data_root)
    root.mkdir(parents=True, exist_ok=True)
    if settings.mailboxes.type == "maildir" and not settings.mailboxes.path:
        mailboxes_dir(settings).mkdir(parents=True, exist_ok=True)


class Service:
    def __init__(self, settings: Settings, worker_only: bool = False,
                 intake: bool = True, smtp: str | None = None) -> None:
        self.settings = settings
        self.smtp = smtp  # --smtp HOST:PORT: an SMTP journal endpoint beside the config's
        self.worker_only = worker_only  # a --workers child: pipeline only, no intake or HTTP
        self.intake = intake and not worker_only  # --no-collectors: HTTP and pipeline only
        self.stop = asyncio.Event()
        self.consumer = f"{socket.gethostname()}-{os.getpid()}"

    async def main(self) -> int:
        s = self.settings
        prepare_data_root(s)
        rules = RuleLibrary(s.rules)
        try:
            compiled = rules.load()
        except RuleError as exc:
            log.error("cannot start: %s", exc)
            return 2
        log.info("loaded %d rules from %s", compiled.count, s.rules)
        store = open_store(s.state_url)
        await store.open()
        try:
            return await self._serve(store, rules)
        finally:
            await store.close()

    async def _serve(self, store: Store, rules: RuleLibrary) -> int:
        s = self.settings
        engine = Engine(s, rules, store)
        backend: MailboxBackend = build_backend(s)
        remediator = Remediator(backend, store, s.remediation, s.organisation_domains)
        collectors = ([build_collector(c, store) for c in collector_configs(s)]
                      if self.intake else [])
        if self.smtp and self.intake:
            collectors.append(build_smtp(CollectorConfig(name="smtp", type="smtp",
                                                         listen=self.smtp)))
        metrics.initialise([c.name for c in collectors], s.scanners, backend.name)
        pipeline = Pipeline(s, store, engine, remediator, self.consumer,
                            concurrency=s.concurrency,
                            reclaim_idle_ms=int(s.reclaim_idle_s * 1000))

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)

        runner: web.AppRunner | None = None
        if not self.worker_only:
            host, port = split_hostport(s.listen, 8080)
            runner = web.AppRunner(build_app(s, store, rules, remediator, api_token(s),
                                             pipeline=pipeline),
                                   access_log=None)
            await runner.setup()
            await web.TCPSite(runner, host, port).start()
            log.info("listening on http://%s:%d (mode %s)", host, port, s.remediation.mode)

        intake_stop = asyncio.Event()
        intake = [asyncio.create_task(self._collect(c, store, intake_stop), name=c.name)
                  for c in collectors]
        background = [
            asyncio.create_task(rules.watch(self.stop, s.rules_reload_s), name="rules"),
            asyncio.create_task(self._gauge_queue(store), name="queue-depth"),
        ]
        work = asyncio.create_task(pipeline.run(self.stop), name="pipeline")
        await self.stop.wait()
        log.info("stopping: intake first, then up to %.0fs to finish in-flight work",
                 s.shutdown_grace_s)
        intake_stop.set()
        await asyncio.gather(*intake, return_exceptions=True)
        try:
            await asyncio.wait_for(asyncio.shield(work), s.shutdown_grace_s)
        except TimeoutError:
            log.warning("grace period over: cancelling in-flight work (it will be redelivered)")
            work.cancel()
            with suppress(asyncio.CancelledError):
                await work
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await backend.close()
        if runner is not None:
            await runner.cleanup()
        return 0

    async def _collect(self, collector: JournalCollector, store: Store,
                       stop: asyncio.Event) -> None:
        async def enqueue(item: QueueItem) -> str:
            entry_id = await store.enqueue(item)
            metrics.COLLECTOR_LAST_SUCCESS.labels(collector.name).set(time.time())
            return entry_id

        metrics.COLLECTOR_LAST_SUCCESS.labels(collector.name).set(time.time())
        while not stop.is_set():
            try:
                await collector.run(enqueue, stop)
            except asyncio.CancelledError:
                raise
            except Exception:
                metrics.COLLECTOR_ERRORS.labels(collector.name).inc()
                log.exception("collector %s crashed; restarting in 1s", collector.name,
                              extra={"collector": collector.name})
                await asyncio.sleep(1)

    async def _gauge_queue(self, store: Store) -> None:
        while True:
            try:
                metrics.QUEUE_DEPTH.set(await store.queue_depth())
            except asyncio.CancelledError:
                raise
            except Exception:
                metrics.STORE_ERRORS.labels("queue_depth").inc()
            await asyncio.sleep(1.0)


def _worker_process(settings_json: str) -> None:
    settings = Settings.model_validate_json(settings_json)
    logs.configure(os.environ.get("TRAWLER_LOG_LEVEL", "INFO"))
    sys.exit(asyncio.run(Service(settings, worker_only=True).main()))


def run_service(settings: Settings, smtp: str | None = None, workers: int | None = None,
                intake: bool = True) -> int:
    if smtp:
        split_hostport(smtp, 25)  # a malformed address is a config error before anything starts
    workers = workers or settings.workers
    if workers > 1 and not settings.state_url.startswith(("redis://", "rediss://")):
        raise ConfigError("--workers: several scanner processes share the queue through "
                          "Redis; set state: redis://...")
    children = []
    ctx = multiprocessing.get_context("spawn")
    for _ in range(workers - 1):
        child = ctx.Process(target=_worker_process, args=(settings.model_dump_json(),),
                            daemon=False)
        child.start()
        children.append(child)
    try:
        return asyncio.run(Service(settings, intake=intake, smtp=smtp).main())
    finally:
        for child in children:
            if child.is_alive() and child.pid is not None:
                os.kill(child.pid, signal.SIGTERM)
        for child in children:
            child.join(settings.shutdown_grace_s + 5)
            if child.is_alive():
                child.kill()


async def _restore(settings: Settings, target: str) -> int:
    store = open_store(settings.state_url)
    await store.open()
    try:
        alert = await store.get_alert(target)
        if alert is None:
            offset = 0
            while alert is None:
                page = await store.list_alerts(500, offset)
                if not page:
                    break
                alert = next((a for a in page if a.get("message_id") == target), None)
                offset += len(page)
        if alert is None:
            print(f"trawler: no alert with id or Message-ID {target}", file=sys.stderr)
            return 1
        backend = build_backend(settings)
        try:
            remediator = Remediator(backend, store, settings.remediation,
                                    settings.organisation_domains)
            results = await remediator.restore(alert["key"], actor="cli", reason="restore")
        finally:
            await backend.close()
        for recipient, result in sorted(results.items()):
            print(f"{result:10} {recipient}")
        if not results:
            print("nothing to restore: no copy of this message was removed")
        return 1 if "failed" in results.values() else 0
    finally:
        await store.close()


def run_restore(settings: Settings, target: str) -> int:
    return asyncio.run(_restore(settings, target))


async def _check(settings: Settings) -> int:
    failures = 0

    def report(what: str, error: str | None) -> None:
        nonlocal failures
        failures += error is not None
        print(f"{'FAIL' if error else 'ok  '} {what}{': ' + error if error else ''}")

    report("config", None)
    try:
        compiled = RuleLibrary(settings.rules).load()
        report(f"rules ({compiled.count} from {settings.rules})", None)
    except RuleError as exc:
        report("rules", str(exc))
    store = open_store(settings.state_url)
    try:
        await store.open()
        report("state", None if await store.ping() else "ping failed")
        for cfg in collector_configs(settings):
            try:
                await build_collector(cfg, store).check()
                report(f"collector {cfg.name} ({cfg.type})", None)
            except Exception as exc:
                report(f"collector {cfg.name} ({cfg.type})", str(exc) or type(exc).__name__)
    except Exception as exc:
        report("state", str(exc) or type(exc).__name__)
    finally:
        with suppress(Exception):
            await store.close()
    try:
        backend = build_backend(settings)
        try:
            await backend.check()
            report(f"mailboxes ({settings.mailboxes.type})", None)
        finally:
            await backend.close()
    except Exception as exc:
        report(f"mailboxes ({settings.mailboxes.type})", str(exc) or type(exc).__name__)
    return 1 if failures else 0


def run_check(settings: Settings) -> int:
    return asyncio.run(_check(settings))
