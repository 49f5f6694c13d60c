"""The dispatcher owns limits: a slow or broken scanner never costs the verdict."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from prometheus_client import REGISTRY

from service.config import Limits, VerdictPolicy
from service.dispatch import Dispatcher, fold
from service.model import Action, Code, Finding, ParsedMessage, Severity, VerdictLabel
from service.scanners.base import LoadedScanner, ScanContext
from tests.factories import message


def _scanner(name: str, fn: Any) -> LoadedScanner:
    return LoadedScanner(name=name, options=None, scan=fn)


async def _hit(msg: ParsedMessage, options: Any, ctx: ScanContext) -> list[Finding]:
    return [Finding(scanner="hit", code=Code.RULE_MATCH, severity=Severity.HIGH, rule="R1",
                    action=Action.REMEDIATE, status="stable")]


async def _hang(msg: ParsedMessage, options: Any, ctx: ScanContext) -> list[Finding]:
    await asyncio.sleep(60)
    return []


async def _boom(msg: ParsedMessage, options: Any, ctx: ScanContext) -> list[Finding]:
    raise ValueError("bad input")


def _errors(scanner: str, kind: str) -> float:
    value = REGISTRY.get_sample_value(
        "trawler_scanner_errors_total", {"scanner": scanner, "kind": kind})
    return value or 0.0


async def test_timeout_and_error_become_findings_and_verdict_still_comes() -> None:
    ctx = ScanContext(limits=Limits(scanner_timeout_s=0.2, message_deadline_s=5))
    before_t, before_e = _errors("hang", "timeout"), _errors("boom", "error")
    d = Dispatcher([_scanner("hit", _hit), _scanner("hang", _hang), _scanner("boom", _boom)],
                   ctx)
    started = time.monotonic()
    verdict = await d.scan(message())
    assert time.monotonic() - started < 3
    codes = {(f.scanner, f.code) for f in verdict.findings}
    assert ("hang", Code.SCANNER_TIMEOUT) in codes
    assert ("boom", Code.SCANNER_ERROR) in codes
    assert verdict.verdict is VerdictLabel.MALICIOUS
    assert verdict.action is Action.REMEDIATE
    assert _errors("hang", "timeout") == before_t + 1
    assert _errors("boom", "error") == before_e + 1


async def test_message_deadline_cuts_every_scanner() -> None:
    ctx = ScanContext(limits=Limits(scanner_timeout_s=30, message_deadline_s=0.3))
    d = Dispatcher([_scanner("hang", _hang), _scanner("hit", _hit)], ctx)
    started = time.monotonic()
    verdict = await d.scan(message())
    assert time.monotonic() - started < 3
    assert any(f.scanner == "hang" and f.code in (Code.DEADLINE_EXCEEDED, Code.SCANNER_TIMEOUT)
               for f in verdict.findings)
    assert verdict.verdict is VerdictLabel.MALICIOUS


async def test_cancellation_propagates() -> None:
    ctx = ScanContext(limits=Limits(scanner_timeout_s=30, message_deadline_s=30))
    d = Dispatcher([_scanner("hang", _hang)], ctx)
    task = asyncio.create_task(d.scan(message()))
    await asyncio.sleep(0.05)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    else:
        raise AssertionError("cancel was swallowed")


def _f(sev: Severity, status: str | None = "stable", action: Action | None = None) -> Finding:
    return Finding(scanner="t", code=Code.RULE_MATCH, severity=sev, status=status, action=action)


def test_fold_thresholds_and_caps() -> None:
    p = VerdictPolicy()
    assert fold(None, [], p, 0).verdict is VerdictLabel.CLEAN
    assert fold(None, [_f(Severity.LOW)], p, 0).verdict is VerdictLabel.CLEAN
    v = fold(None, [_f(Severity.MEDIUM)], p, 0)
    assert (v.verdict, v.action) == (VerdictLabel.SUSPICIOUS, Action.ALERT)
    v = fold(None, [_f(Severity.CRITICAL, action=Action.REMEDIATE)], p, 0)
    assert (v.verdict, v.action) == (VerdictLabel.MALICIOUS, Action.REMEDIATE)
    capped = VerdictPolicy(max_action=Action.ALERT)
    assert fold(None, [_f(Severity.CRITICAL, action=Action.REMEDIATE)], capped, 0).action \
        is Action.ALERT


def _low(scanner: str, code: Code) -> Finding:
    return Finding(scanner=scanner, code=code, severity=Severity.LOW)


def test_fold_corroborates_a_sender_and_a_link_signal_from_two_scanners() -> None:
    p = VerdictPolicy()
    pair = [_low("headers", Code.DMARC_FAIL), _low("urls", Code.URL_SHORTENER)]
    v = fold(None, pair, p, 0)
    assert (v.verdict, v.action, v.severity) == (
        VerdictLabel.SUSPICIOUS, Action.ALERT, Severity.MEDIUM)
    [extra] = [f for f in v.findings if f.code is Code.CORROBORATED]
    assert extra.scanner == "verdict"
    assert extra.evidence == ("sender: headers/dmarc_fail", "link: urls/url_shortener")
    # A link inside a PDF counts as a link; Reply-To to free mail as a sender signal.
    v = fold(None, [_low("headers", Code.REPLY_TO_FREEMAIL), _low("pdf", Code.PDF_URI)], p, 0)
    assert v.verdict is VerdictLabel.SUSPICIOUS


def test_fold_does_not_corroborate_weak_or_lone_signals() -> None:
    p = VerdictPolicy()
    clean = [
        # Mailing lists: Reply-To to another domain, a broken DKIM, a shortener.
        [_low("headers", Code.REPLY_TO_MISMATCH), _low("urls", Code.URL_SHORTENER)],
        [_low("headers", Code.DKIM_FAIL), _low("headers", Code.SPF_FAIL),
         _low("urls", Code.FREE_HOSTING)],
        # Address syntax (a forwarder's odd Return-Path) is no sender claim.
        [_low("headers", Code.INVALID_ADDRESS), _low("urls", Code.FREE_HOSTING)],
        # Two link signals, or two sender signals: one kind only.
        [_low("urls", Code.URL_SHORTENER), _low("pdf", Code.PDF_URI)],
        [_low("headers", Code.DMARC_FAIL), _low("headers", Code.REPLY_TO_FREEMAIL)],
        # INFO and not-yet-stable findings do not count.
        [Finding(scanner="headers", code=Code.DMARC_FAIL, severity=Severity.INFO),
         _low("urls", Code.URL_SHORTENER)],
        [_low("headers", Code.DMARC_FAIL),
         Finding(scanner="urls", code=Code.URL_SHORTENER, severity=Severity.LOW,
                 status="nursery")],
    ]
    for findings in clean:
        v = fold(None, findings, p, 0)
        assert v.verdict is VerdictLabel.CLEAN, findings
        assert not any(f.code is Code.CORROBORATED for f in v.findings)


def test_fold_corroboration_can_be_switched_off() -> None:
    pair = [_low("headers", Code.DMARC_FAIL), _low("urls", Code.LOOKALIKE_DOMAIN)]
    v = fold(None, pair, VerdictPolicy(corroborate=False), 0)
    assert v.verdict is VerdictLabel.CLEAN
    assert len(v.findings) == 2


def test_fold_ignores_rules_not_yet_stable() -> None:
    v = fold(None, [_f(Severity.CRITICAL, status="nursery", action=Action.REMEDIATE)],
             VerdictPolicy(), 0)
    assert v.verdict is VerdictLabel.CLEAN
    assert v.action is Action.NONE
    assert len(v.findings) == 1  # still reported, for the team tuning it
