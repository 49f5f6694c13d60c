"""Run every scanner on one parsed message at once, under the limits, into one verdict.

The dispatcher, not the scanner, owns timeouts and the per-message deadline and turns
exceptions into error findings plus a metric: one broken scanner never costs a
message its verdict.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable

from service import metrics
from service.config import VerdictPolicy
from service.corroborate import corroborated
from service.model import (
    Action,
    Code,
    Finding,
    ParsedMessage,
    Severity,
    Verdict,
    VerdictLabel,
    bounded_evidence,
)
from service.scanners.base import LoadedScanner, ScanContext

log = logging.getLogger(__name__)


# Turns one message into a bigger one before scanning: archive members, decrypted
# documents and embedded files become attachments (with `parent` set) so that every
# scanner, YARA included, sees them. Must honour the limits and never raise.
Expander = Callable[[ParsedMessage, ScanContext], Awaitable[ParsedMessage]]


class Dispatcher:
    def __init__(self, scanners: list[LoadedScanner], ctx: ScanContext,
                 policy: VerdictPolicy | None = None,
                 expander: Expander | None = None) -> None:
        self._scanners = scanners
        self._ctx = ctx
        # Bound once: `labels()` takes a lock and a dict look-up on every call, and the
        # dispatcher observes each scanner on every message.
        self._durations = {s.name: metrics.SCAN_DURATION.labels(s.name) for s in scanners}
        self._expand_duration = metrics.SCAN_DURATION.labels("expand")
        self._policy = policy or VerdictPolicy()
        self._expander = expander

    @property
    def scanner_names(self) -> list[str]:
        return [s.name for s in self._scanners]

    @property
    def loaded(self) -> tuple[LoadedScanner, ...]:
        """The configured scanners, for benchmarks that time each one alone."""
        return tuple(self._scanners)

    async def expand(self, msg: ParsedMessage) -> ParsedMessage:
        """The message as the scanners would see it: containers opened, under limits."""
        return await self._expand(msg)

    async def scan(self, msg: ParsedMessage) -> Verdict:
        return (await self.scan_expanded(msg))[1]

    async def scan_expanded(self, msg: ParsedMessage) -> tuple[ParsedMessage, Verdict]:
        """The verdict, and the message as scanned: with archive members and decrypted
        documents among its attachments, so reports list what was found inside."""
        started = time.perf_counter()
        msg = await self._expand(msg)
        findings = list(msg.findings)
        findings.extend(await self.run_scanners(msg))
        return msg, fold(msg.message_id, findings, self._policy,
                         (time.perf_counter() - started) * 1000.0)

    async def _expand(self, msg: ParsedMessage) -> ParsedMessage:
        if self._expander is None:
            return msg
        timeout = self._ctx.limits.scanner_timeout_s
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                return await self._expander(msg, self._ctx)
        except TimeoutError:
            metrics.SCANNER_ERRORS.labels("expand", "timeout").inc()
            finding = Finding(scanner="expand", code=Code.SCANNER_TIMEOUT,
                              severity=Severity.INFO, evidence=(f"timeout {timeout:.3g}s",))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            metrics.SCANNER_ERRORS.labels("expand", "error").inc()
            finding = Finding(scanner="expand", code=Code.SCANNER_ERROR, severity=Severity.INFO,
                              evidence=bounded_evidence([f"{type(exc).__name__}: {exc}"]))
        finally:
            self._expand_duration.observe(time.perf_counter() - started)
        return dataclasses.replace(msg, findings=(*msg.findings, finding))

    async def run_scanners(self, msg: ParsedMessage) -> list[Finding]:
        limits = self._ctx.limits
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limits.message_deadline_s
        tasks = {
            asyncio.create_task(self._run_one(s, msg, deadline), name=f"scan:{s.name}"): s
            for s in self._scanners
        }
        if not tasks:
            return []
        done, pending = await asyncio.wait(tasks, timeout=limits.message_deadline_s)
        findings: list[Finding] = []
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        for task, scanner in tasks.items():
            if task in done:
                findings.extend(task.result())
            else:
                metrics.SCANNER_ERRORS.labels(scanner.name, "deadline").inc()
                findings.append(Finding(
                    scanner=scanner.name, code=Code.DEADLINE_EXCEEDED, severity=Severity.INFO,
                    evidence=(f"message deadline {limits.message_deadline_s}s",),
                ))
        return findings

    async def _run_one(self, scanner: LoadedScanner, msg: ParsedMessage,
                       deadline: float) -> list[Finding]:
        loop = asyncio.get_running_loop()
        timeout = min(self._ctx.limits.scanner_timeout_s, max(0.0, deadline - loop.time()))
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                return list(await scanner.scan(msg, scanner.options, self._ctx))
        except TimeoutError:
            metrics.SCANNER_ERRORS.labels(scanner.name, "timeout").inc()
            return [Finding(scanner=scanner.name, code=Code.SCANNER_TIMEOUT,
                            severity=Severity.INFO, evidence=(f"timeout {timeout:.3g}s",))]
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a scanner bug or hostile input must not cost the verdict
            metrics.SCANNER_ERRORS.labels(scanner.name, "error").inc()
            log.warning("scanner %s failed on %s: %s", scanner.name, msg.message_id,
                        type(exc).__name__)
            return [Finding(scanner=scanner.name, code=Code.SCANNER_ERROR,
                            severity=Severity.INFO,
                            evidence=bounded_evidence([f"{type(exc).__name__}: {exc}"]))]
        finally:
            self._durations[scanner.name].observe(time.perf_counter() - started)


def fold(message_id: str | None, findings: list[Finding], policy: VerdictPolicy,
         elapsed_ms: float) -> Verdict:
    """Highest severity decides the label; rules' own `action` meta, capped, the action.

    Rules in `test` or `nursery` status report findings but move neither label nor
    action: that is how a new rule earns trust in production before it can act.
    With `policy.corroborate`, a weak sender signal and a weak link signal from two
    scanners add one MEDIUM `corroborated` finding (service/corroborate.py).
    """
    if policy.corroborate:
        extra = corroborated(findings)
        if extra is not None:
            findings = [*findings, extra]
    top: Severity | None = None
    for f in findings:
        if f.status not in (None, "stable"):
            continue
        if top is None or f.severity.rank > top.rank:
            top = f.severity
    if top is None or top.rank < policy.suspicious_at.rank:
        label = VerdictLabel.CLEAN
    elif top.rank < policy.malicious_at.rank:
        label = VerdictLabel.SUSPICIOUS
    else:
        label = VerdictLabel.MALICIOUS
    action = Action.NONE
    if label is not VerdictLabel.CLEAN:
        action = Action.ALERT
        for f in findings:
            if (f.action is Action.REMEDIATE
                    and f.severity.rank >= policy.suspicious_at.rank
                    and f.status in (None, "stable")):
                action = Action.REMEDIATE
    if action.rank > policy.max_action.rank:
        action = policy.max_action
    return Verdict(message_id=message_id, verdict=label, action=action, severity=top,
                   findings=tuple(findings), elapsed_ms=elapsed_ms)
