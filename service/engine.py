"""Raw bytes in, parsed message and verdict out: the one path `scan`, `run` and tests share."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from service import expand, mime
from service.config import Settings
from service.dispatch import Dispatcher
from service.indicators import IndicatorIndex
from service.model import ParsedMessage, Verdict
from service.rules import RuleLibrary
from service.scanners.base import ScanContext, load_scanners


@dataclass(frozen=True, slots=True)
class ScanResult:
    msg: ParsedMessage
    verdict: Verdict


class Engine:
    def __init__(self, settings: Settings, rules: RuleLibrary | None = None,
                 store: Any = None) -> None:
        self.settings = settings
        self.rules = rules or RuleLibrary(settings.rules)
        self.ctx = ScanContext(limits=settings.limits, rules=self.rules, store=store,
                               organisation_domains=settings.organisation_domains,
                               indicators=IndicatorIndex(settings.indicators_file, store))
        self.dispatcher = Dispatcher(load_scanners(dict(settings.scanners)), self.ctx,
                                     settings.verdict,
                                     expander=expand.warmed(settings.limits))

    def load_rules(self) -> None:
        if not self.rules.loaded:
            self.rules.load()

    def parse(self, raw: bytes) -> ParsedMessage:
        return mime.parse(raw, self.settings.limits)

    async def scan_raw(self, raw: bytes) -> ScanResult:
        started = time.perf_counter()
        return await self.scan_parsed(self.parse(raw), started)

    async def scan_parsed(self, msg: ParsedMessage, started: float | None = None) -> ScanResult:
        started = time.perf_counter() if started is None else started
        msg, verdict = await self.dispatcher.scan_expanded(msg)
        elapsed = (time.perf_counter() - started) * 1000.0
        verdict = Verdict(message_id=verdict.message_id, verdict=verdict.verdict,
                          action=verdict.action, severity=verdict.severity,
                          findings=verdict.findings, elapsed_ms=elapsed)
        return ScanResult(msg, verdict)


def result_json(result: ScanResult, path: str | None = None) -> dict[str, Any]:
    """The `trawler scan` line; DESIGN.md names the fields users rely on."""
    msg, verdict = result.msg, result.verdict
    out: dict[str, Any] = {}
    if path is not None:
        out["path"] = path
    out.update({
        "message_id": msg.message_id,
        "verdict": verdict.verdict.value,
        "action": verdict.action.value,
        "severity": verdict.severity.value if verdict.severity else None,
        "subject": msg.subject,
        "sender": msg.from_address,
        "findings": [f.to_json() for f in verdict.findings],
        "urls": [u.url for u in msg.urls],
        "attachments": [a.to_json() for a in msg.attachments],
        "recipients": [r.address for r in msg.envelope.recipients],
        "envelope": {
            "journaled": msg.envelope.journaled,
            "sender": msg.envelope.sender,
            "recipients": [r.to_json() for r in msg.envelope.recipients],
        },
        "elapsed_ms": round(verdict.elapsed_ms, 3),
    })
    return out
