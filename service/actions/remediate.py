"""Remediation policy: who to pull a message from, when, how many, and putting it back.

The mailbox backends (service/collectors/) only know how to find, move and restore a
copy. This module decides: mode (enforce / shadow / off), minimum severity, the
organisation-domain fence, the per-rule blast-radius guard, retries with backoff, and
it writes a record per recipient plus an audit line so every move can be undone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from service import metrics
from service.collectors.base import (
    MailboxBackend,
    MessageIdentity,
    Moved,
    QuarantineOutcome,
    RemovalResult,
    RestoreResult,
)
from service.config import Remediation
from service.model import Severity
from service.state.base import JSON, Store

log = logging.getLogger(__name__)

# Journal copies can arrive before the mailbox delivery finishes: a miss is retried.
_FINAL = (RemovalResult.REMOVED, RemovalResult.SHADOW, RemovalResult.SKIPPED)


@dataclass(frozen=True, slots=True)
class Request:
    key: str  # dedup key of the message
    alert_id: str | None
    ident: MessageIdentity
    recipients: tuple[str, ...]
    rules: tuple[str, ...]  # rules that asked for removal: the blast-radius guard counts these
    severity: Severity
    received_at: float  # journal arrival: the start of time-to-remediate
    actor: str = "trawler"
    reason: str = "verdict"
    force: bool = False  # act again on copies a person restored (explicit re-remediation)


def in_domains(address: str, domains: Iterable[str]) -> bool:
    domains = tuple(domains)
    if not domains:
        return True
    domain = address.rpartition("@")[2].lower()
    return any(domain == d or domain.endswith("." + d) for d in domains)


class Remediator:
    def __init__(self, backend: MailboxBackend, store: Store, policy: Remediation,
                 organisation_domains: tuple[str, ...] = ()) -> None:
        self.backend = backend
        self.store = store
        self.policy = policy
        self.domains = organisation_domains

    async def remediate(self, req: Request) -> dict[str, JSON]:
        """Act for every recipient not already done; return the record of each."""
        done = await self.store.get_remediations(req.key)
        if self.policy.mode == "off" or req.severity.rank < self.policy.min_severity.rank:
            return done
        # Removed copies are never moved twice; restored ones stay put unless forced,
        # so a replayed journal report cannot undo an analyst's false-positive call.
        settled = {RemovalResult.REMOVED.value} | (set() if req.force else {"restored"})
        todo = [r for r in req.recipients if done.get(r, {}).get("result") not in settled]
        if not todo:
            return done
        dry_run = self.policy.mode == "shadow" or await self._over_blast_radius(req, todo)
        results = await asyncio.gather(*(self._one(req, r, dry_run) for r in todo))
        records = dict(done)
        records.update(zip(todo, results, strict=True))
        acted = [records[r]["result"] for r in req.recipients
                 if records.get(r, {}).get("result") != RemovalResult.SKIPPED.value]
        if acted and all(res == RemovalResult.REMOVED.value for res in acted):
            metrics.TIME_TO_REMEDIATE.observe(max(0.0, time.time() - req.received_at))
        return records

    async def _over_blast_radius(self, req: Request, recipients: list[str]) -> bool:
        """Past N distinct removals per rule per window, drop to shadow and say so."""
        guard = self.policy.blast_radius
        # All adds at once, not one round trip after another on the removal's hot path;
        # a rule's count is its largest answer (the one taken after all its adds).
        counts = await asyncio.gather(*(
            asyncio.gather(*(self.store.window_add(f"blast:{rule}", r, guard.window_s)
                             for r in recipients)) for rule in req.rules))
        tripped = [rule for rule, per_recipient in zip(req.rules, counts, strict=True)
                   if max(per_recipient, default=0) > guard.max_removals]
        if tripped:
            log.error("blast-radius guard tripped for %s: removals now shadow-only",
                      ", ".join(tripped))
            await self.store.audit({"event": "blast_radius_tripped", "rules": tripped,
                                    "key": req.key, "alert_id": req.alert_id,
                                    "limit": guard.max_removals, "window_s": guard.window_s,
                                    "ts": time.time()})
        return bool(tripped)

    async def _one(self, req: Request, recipient: str, dry_run: bool) -> JSON:
        if not in_domains(recipient, self.domains):
            outcome = QuarantineOutcome(RemovalResult.SKIPPED, reason="outside organisation")
        else:
            outcome = await self._with_retries(recipient, req.ident, dry_run)
        record: dict[str, Any] = {
            "result": outcome.result.value,
            "moved": [m.to_json() for m in outcome.moved],
            "reason": outcome.reason,
            "backend": self.backend.name,
            "ts": time.time(),
        }
        await self.store.save_remediation(req.key, recipient, record)
        await self.store.audit({"event": "remediate", "key": req.key, "alert_id": req.alert_id,
                                "recipient": recipient, "result": outcome.result.value,
                                "reason": outcome.reason, "actor": req.actor,
                                "why": req.reason, "ts": record["ts"]})
        metrics.REMEDIATIONS.labels(self.backend.name, outcome.result.value).inc()
        return record

    async def _with_retries(self, recipient: str, ident: MessageIdentity,
                            dry_run: bool) -> QuarantineOutcome:
        delay = self.policy.retry_backoff_s
        outcome = QuarantineOutcome(RemovalResult.FAILED, reason="not attempted")
        for attempt in range(self.policy.retries + 1):
            try:
                outcome = await self.backend.quarantine(recipient, ident, dry_run=dry_run)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a backend bug must become a recorded failure
                outcome = QuarantineOutcome(RemovalResult.FAILED, reason=type(exc).__name__)
            if outcome.result in _FINAL:
                return outcome
            if attempt < self.policy.retries:
                await asyncio.sleep(delay)
                delay *= 2
        return outcome

    async def restore(self, key: str, actor: str = "trawler",
                      reason: str = "restore") -> dict[str, str]:
        """Put back every copy this message's records say was moved. Idempotent."""
        records = await self.store.get_remediations(key)
        results: dict[str, str] = {}
        for recipient, record in records.items():
            if record.get("result") != RemovalResult.REMOVED.value:
                continue
            outcomes = []
            for moved in record.get("moved", []):
                try:
                    outcomes.append(await self.backend.restore(recipient, Moved.from_json(moved)))
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("restore failed for a copy: %s", type(exc).__name__)
                    outcomes.append(RestoreResult.FAILED)
            result = (RestoreResult.FAILED if RestoreResult.FAILED in outcomes
                      else RestoreResult.RESTORED if RestoreResult.RESTORED in outcomes
                      else RestoreResult.NOT_FOUND)
            results[recipient] = result.value
            if result is not RestoreResult.FAILED:
                await self.store.save_remediation(key, recipient, {
                    **record, "result": "restored", "restored_at": time.time()})
            await self.store.audit({"event": "restore", "key": key, "recipient": recipient,
                                    "result": result.value, "actor": actor, "why": reason,
                                    "ts": time.time()})
        return results
