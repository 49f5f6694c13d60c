"""Queue consumer: parse, scan, verdict, record, act, and only then ack.

At-least-once and idempotent: a message redelivered after a crash is parsed again but
keeps its single verdict (upsert by dedup key), its alert id (derived from the key) and
its remediation records (a recipient already done is never touched twice). A second
journal report of the same message merges recipients and remediates only the new ones.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time

from service import metrics
from service.actions.alerts import AlertSinks
from service.actions.clicks import attach_earlier_events, index_message
from service.actions.remediate import Remediator, Request
from service.collectors.base import MessageIdentity
from service.config import Settings
from service.engine import Engine, ScanResult, result_json
from service.model import Action, Finding, ParsedMessage, Severity, VerdictLabel
from service.state.base import JSON, QueueEntry, Store

log = logging.getLogger(__name__)

# A message whose removal failed for some recipient is delivered again (after
# reclaim_idle_s) up to this many times in all, then acked with the failure on record.
REMEDIATION_DELIVERIES = 8


def dedup_key(msg: ParsedMessage) -> str:
    """Message-ID plus a hash of the body: two reports of one message share a key,
    while a forged report reusing a Message-ID with another body does not."""
    body = msg.raw[len(msg.header_block):]
    digest = hashlib.sha256()
    digest.update((msg.message_id or "").encode("utf-8", "surrogatepass"))
    digest.update(b"\0")
    digest.update(hashlib.sha256(body).digest() if msg.message_id else msg.raw)
    return digest.hexdigest()[:32]


def alert_id_for(key: str) -> str:
    # Derived, not random: a redelivered message finds its own alert instead of a twin.
    return "A-" + key[:16]


def identity(msg: ParsedMessage) -> MessageIdentity:
    return MessageIdentity(message_id=msg.message_id or "", from_header=msg.header("From"),
                           subject=msg.header("Subject"), date=msg.header("Date"))


def build_alert(key: str, result: ScanResult, received_at: float, collector: str) -> JSON:
    msg, verdict = result.msg, result.verdict
    body = result_json(result)
    return {
        "id": alert_id_for(key),
        "key": key,
        "created_at": time.time(),
        "received_at": received_at,
        "collector": collector,
        "message_id": msg.message_id,
        "subject": msg.subject,
        "sender": msg.from_address,
        "from": msg.header("From"),
        "date": msg.date,
        "verdict": verdict.verdict.value,
        "severity": verdict.severity.value if verdict.severity else None,
        "action": verdict.action.value,
        "findings": body["findings"],
        "urls": [u.to_json() for u in msg.urls],
        "attachments": body["attachments"],
        "recipients": body["envelope"]["recipients"],
        "identity": {"message_id": msg.message_id, "from": msg.header("From"),
                     "subject": msg.header("Subject"), "date": msg.header("Date")},
        "disposition": None,
        "timeline": {"delivered": received_at, "detected": time.time()},
    }


class Pipeline:
    def __init__(self, settings: Settings, store: Store, engine: Engine,
                 remediator: Remediator | None, consumer: str,
                 concurrency: int = 8, reclaim_idle_ms: int = 30_000) -> None:
        self.settings = settings
        self.store = store
        self.engine = engine
        self.remediator = remediator
        self.consumer = consumer
        self.concurrency = concurrency
        self.reclaim_idle_ms = reclaim_idle_ms
        self._inflight: set[asyncio.Task[None]] = set()
        self.sinks = AlertSinks(settings.alert_sinks, store)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until stop is set; then let in-flight work finish (caller bounds it)."""
        sem = asyncio.Semaphore(self.concurrency)
        last_reclaim = 0.0
        while not stop.is_set():
            try:
                entries: list[QueueEntry] = []
                if time.monotonic() - last_reclaim > self.reclaim_idle_ms / 3000:
                    last_reclaim = time.monotonic()
                    entries = await self.store.reclaim(self.consumer, self.reclaim_idle_ms,
                                                       self.concurrency)
                if not entries:
                    entries = await self.store.consume(self.consumer, self.concurrency, 100)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                metrics.STORE_ERRORS.labels("consume").inc()
                log.warning("queue read failed, retrying: %s", exc)
                await asyncio.sleep(0.5)
                continue
            for entry in entries:
                await sem.acquire()
                task = asyncio.create_task(self._guarded(entry, sem))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)
        await self.drain()

    async def drain(self) -> None:
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)

    async def _guarded(self, entry: QueueEntry, sem: asyncio.Semaphore) -> None:
        metrics.INFLIGHT.inc()
        try:
            await self.process(entry)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Not acked: the entry is reclaimed and retried; nothing is lost.
            metrics.MESSAGES.labels(entry.item.collector, "error").inc()
            log.exception("processing failed for %s; left for retry", entry.item.ref,
                          extra={"collector": entry.item.collector, "ref": entry.item.ref})
        finally:
            metrics.INFLIGHT.dec()
            sem.release()

    async def process(self, entry: QueueEntry) -> None:
        item = entry.item
        metrics.QUEUE_WAIT.observe(max(0.0, time.time() - item.received_at))
        msg = self.engine.parse(item.raw)
        key = dedup_key(msg)
        merge = await self.store.merge_recipients(key, list(msg.envelope.addresses))
        verdict_json = await self.store.get_verdict(key)
        result: ScanResult | None = None
        outcome = "duplicate"
        if verdict_json is None:
            # First sight (or a crash before the verdict was saved): scan it.
            result = await self.engine.scan_parsed(msg)
            verdict = result.verdict
            verdict_json = {
                "key": key, "message_id": msg.message_id, "verdict": verdict.verdict.value,
                "action": verdict.action.value,
                "severity": verdict.severity.value if verdict.severity else None,
                "findings": [f.to_json() for f in verdict.findings],
                "collector": item.collector, "ref": item.ref, "scanned_at": time.time(),
                "elapsed_ms": round(verdict.elapsed_ms, 3),
            }
            await self.store.save_verdict(key, verdict_json)
            await self._count_hits(verdict.findings)
            outcome = verdict.verdict.value
        elif merge.first_seen:
            outcome = str(verdict_json["verdict"])
        if result is not None or merge.new_recipients:
            # Every scanned message, flagged or not: a click on a link of a message that
            # only later turns out to be phish must still be found.
            await index_message(self.store, key, msg, list(merge.all_recipients),
                                item.received_at, self.settings.response.url_index_ttl_s)
        if verdict_json["verdict"] != VerdictLabel.CLEAN.value:
            alert = await self._alert_and_act(key, msg, result, verdict_json,
                                              item.received_at, item.collector)
            failed = sum(r.get("result") == "failed"
                         for r in alert.get("remediation", {}).values())
            if failed and entry.deliveries < REMEDIATION_DELIVERIES:
                # A mail server restart outlasts the in-process retries: leave the entry
                # unacked so it is reclaimed and only the failed recipients are retried.
                log.warning("removal failed for %d recipient(s) of %s; redelivery %d of %d "
                            "in %.0fs", failed, item.ref, entry.deliveries + 1,
                            REMEDIATION_DELIVERIES, self.reclaim_idle_ms / 1000,
                            extra={"collector": item.collector, "ref": item.ref})
                return
        await self.store.ack(entry.entry_id)
        metrics.MESSAGES.labels(item.collector, outcome).inc()

    async def _count_hits(self, findings: tuple[Finding, ...]) -> None:
        now = time.time()
        for f in findings:
            if f.rule and f.status in (None, "stable"):
                metrics.DETECTIONS.labels(f.rule, f.severity.value).inc()
                await self.store.rule_stats_add(f.rule, {"hits": 1}, last_hit=now)

    async def rescan(self, raw: bytes, received_at: float, collector: str,
                     found_by: str) -> JSON | None:
        """Retro-hunt: scan again with today's rules and indicators; act on a new hit.

        The stored verdict is replaced only when the message now looks worse, and an
        alert an analyst marked FALSE_POSITIVE is never acted on again.
        """
        msg = self.engine.parse(raw)
        key = dedup_key(msg)
        merge = await self.store.merge_recipients(key, list(msg.envelope.addresses))
        result = await self.engine.scan_parsed(msg)
        verdict = result.verdict
        if merge.first_seen:
            await index_message(self.store, key, msg, list(merge.all_recipients), received_at,
                                self.settings.response.url_index_ttl_s)
        if not verdict.flagged:
            return None
        old = await self.store.get_verdict(key)
        rank = {v.value: i for i, v in enumerate(VerdictLabel)}
        if old is not None and rank.get(str(old.get("verdict")), 0) >= rank[verdict.verdict.value] \
                and old.get("action") == verdict.action.value:
            verdict_json = old
        else:
            verdict_json = {
                "key": key, "message_id": msg.message_id, "verdict": verdict.verdict.value,
                "action": verdict.action.value,
                "severity": verdict.severity.value if verdict.severity else None,
                "findings": [f.to_json() for f in verdict.findings], "collector": collector,
                "ref": found_by, "scanned_at": time.time(),
                "elapsed_ms": round(verdict.elapsed_ms, 3)}
            await self.store.save_verdict(key, verdict_json)
            await self._count_hits(verdict.findings)
        return await self._alert_and_act(key, msg, result, verdict_json, received_at, collector,
                                         found_by=found_by)

    async def _alert_and_act(self, key: str, msg: ParsedMessage, result: ScanResult | None,
                             verdict_json: JSON, received_at: float, collector: str,
                             found_by: str | None = None) -> JSON:
        alert = await self.store.find_alert_by_message(key)
        is_new = alert is None
        if alert is None:
            if result is None:  # crashed between verdict and alert last time
                result = await self.engine.scan_parsed(msg)
            alert = build_alert(key, result, received_at, collector)
            if found_by:
                alert["found_by"] = found_by
            await self.store.save_alert(alert["id"], alert)
            earlier = await attach_earlier_events(self.store, alert)
            if earlier:
                log.warning("alert %s: %d click(s)/open(s) recorded before it was raised",
                            alert["id"], len(earlier), extra={"alert_id": alert["id"]})
            metrics.ALERTS.labels(alert["verdict"]).inc()
            log.warning("alert %s: %s verdict", alert["id"], alert["verdict"],
                        extra={"alert_id": alert["id"], "message_id": alert["message_id"],
                               "collector": collector, "verdict": alert["verdict"]})
        else:
            merged = {r["address"]: r for r in alert.get("recipients", [])}
            for r in msg.envelope.recipients:
                merged.setdefault(r.address, r.to_json())
            alert = {**alert, "recipients": list(merged.values())}
        if (verdict_json["action"] != Action.REMEDIATE.value or self.remediator is None
                or alert.get("disposition") == "FALSE_POSITIVE"):
            await self.store.save_alert(alert["id"], alert)
            if is_new:
                self.sinks.publish("alert.created", alert)
            return alert
        before = await self.store.get_remediations(key)
        rules = tuple(sorted({f["rule"] for f in verdict_json["findings"]
                              if f.get("rule") and f.get("action") == "remediate"}))
        records = await self.remediator.remediate(Request(
            key=key, alert_id=alert["id"], ident=identity(msg),
            recipients=tuple(r["address"] for r in alert["recipients"]), rules=rules,
            severity=Severity.parse(verdict_json["severity"], Severity.INFO),
            received_at=received_at, reason=found_by or "verdict"))
        alert["remediation"] = records
        removed = [r["ts"] for r in records.values() if r.get("result") == "removed"]
        log.info("alert %s: removed from %d of %d mailboxes", alert["id"], len(removed),
                 len(records), extra={"alert_id": alert["id"], "message_id": msg.message_id,
                                      "removed": len(removed), "recipients": len(records)})
        if removed:
            alert["timeline"] = {**alert.get("timeline", {}), "removed": max(removed)}
        await self.store.save_alert(alert["id"], alert)
        newly = sum(1 for r, rec in records.items() if rec.get("result") == "removed"
                    and before.get(r, {}).get("result") != "removed")
        for rule in rules:
            if newly:
                await self.store.rule_stats_add(rule, {"remediations": newly})
        if is_new or newly:
            self.sinks.publish("alert.created" if is_new else "alert.updated", alert)
        return alert
