"""Indicator matches: a message carrying a known-bad address, domain, URL, file or subject.

Reads `ctx.indicators` (service.indicators.IndicatorIndex: the `indicators_file` from
git plus the store, refreshed every few seconds in memory), so a scan is set lookups.
Without a store (`trawler scan` without a service) only the file's indicators match.

Options: `max_findings` (default 8) bounds the findings per message.
Outputs: `indicator_match`, one per matching indicator, with the indicator's severity
(default high) and action (alert unless the indicator says remediate); evidence names
the type, the value, where in the message it was seen, the source and the reason.
What is looked at: email — From, Reply-To, Sender, Return-Path and the envelope
sender; domain — those addresses' domains and every URL host (a domain indicator also
covers its subdomains); url — each URL (normalised and unwrapped by the parser);
url_path — each URL's host + path; sha256 — every attachment, archive members
included when the expander added them; subject — the subject's fingerprint.
Limitations: domains are not resolved (no CNAME or IP matching); a URL indicator
matches the URL exactly apart from case, default port and fragment.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from service.indicators import (
    Indicator,
    IndicatorSet,
    IndicatorType,
    canonical_url,
    subject_fingerprint,
    url_host_path,
)
from service.model import Code, Finding, ParsedMessage, bounded_evidence
from service.scanners.base import ScanContext

NAME = "indicators"

_ADDRESS = re.compile(r"[^\s<>\"',;:()\[\]]+@[^\s<>\"',;:()\[\]]+")
_ADDRESS_HEADERS = ("From", "Reply-To", "Sender", "Return-Path")
MAX_ADDRESSES = 20


@dataclass(frozen=True, slots=True)
class Options:
    max_findings: int = 8


def _addresses(msg: ParsedMessage) -> dict[str, str]:
    """address -> where it was seen."""
    out: dict[str, str] = {}
    if msg.from_address:
        out[msg.from_address.lower()] = "From"
    for name in _ADDRESS_HEADERS:
        for value in msg.header_all(name)[:4]:
            for addr in _ADDRESS.findall(value[:2048]):
                out.setdefault(addr.lower().strip("."), name)
    if msg.envelope.sender:
        out.setdefault(msg.envelope.sender.lower(), "envelope sender")
    return dict(list(out.items())[:MAX_ADDRESSES])


def match(msg: ParsedMessage, indicators: IndicatorSet,
          now: float | None = None) -> list[tuple[Indicator, str]]:
    """(indicator, where) for every indicator the message carries, first hit each."""
    now = time.time() if now is None else now
    hits: dict[str, tuple[Indicator, str]] = {}

    def hit(ind: Indicator | None, where: str) -> None:
        if ind is not None:
            hits.setdefault(ind.key, (ind, where))

    for addr, where in _addresses(msg).items():
        hit(indicators.get(IndicatorType.EMAIL, addr, now), where)
        hit(indicators.domain(addr.rpartition("@")[2], now), where)
    for url in msg.urls:
        canon = canonical_url(url.url)
        if canon is None:
            continue
        where = f"url in part {url.source}"
        hit(indicators.get(IndicatorType.URL, canon, now), where)
        host_path = url_host_path(canon)
        if host_path is not None:
            hit(indicators.get(IndicatorType.URL_PATH, host_path, now), where)
            hit(indicators.domain(host_path.split("/", 1)[0], now), where)
    for att in msg.attachments:
        hit(indicators.get(IndicatorType.SHA256, att.sha256.lower(), now),
            f"attachment {att.filename or att.part_id}")
    fingerprint = subject_fingerprint(msg.subject)
    if fingerprint is not None:
        hit(indicators.get(IndicatorType.SUBJECT, fingerprint, now), "Subject")
    return list(hits.values())


def _finding(ind: Indicator, where: str) -> Finding:
    return Finding(
        scanner=NAME, code=Code.INDICATOR_MATCH, severity=ind.severity, action=ind.action,
        rule=ind.key[:200], description=ind.reason or None, part="headers" if where in
        (*_ADDRESS_HEADERS, "Subject", "envelope sender") else None,
        evidence=bounded_evidence([f"{ind.type.value}: {ind.value}", f"seen in: {where}",
                                   f"source: {ind.source}", f"reason: {ind.reason}"]))


async def scan(msg: ParsedMessage, options: Options, ctx: ScanContext) -> list[Finding]:
    index = ctx.indicators
    if index is None:
        return []
    indicators = await index.current()
    if not len(indicators):
        return []
    return [_finding(ind, where) for ind, where in match(msg, indicators)][
        :max(0, options.max_findings)]
