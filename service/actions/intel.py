"""Dispositions: an analyst's call on an alert, and what Trawler does with it.

FALSE_POSITIVE puts every removed copy back, counts against each rule that fired
(`/v1/rules`, `trawler_rule_false_positives_total`) and, when asked, allowlists the
sender and link hosts. A malicious phase (RECONNAISSANCE .. DAMAGE) turns the sender
(unless free-mail, allowlisted or ours), every URL and link host (unless allowlisted or
ours) and every attachment hash into indicators with an expiry and action `remediate`,
then starts a retro-hunt so the rest of the campaign goes too.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from service import metrics
from service.actions.remediate import Remediator, in_domains
from service.config import Settings
from service.indicators import Indicator, IndicatorError
from service.senderdata import FREEMAIL_FILE
from service.state.base import JSON, Store
from service.urls.normalize import host_of

log = logging.getLogger(__name__)

DISPOSITIONS = metrics.DISPOSITIONS_SET
MALICIOUS = frozenset({"RECONNAISSANCE", "WEAPONIZATION", "DELIVERY", "EXPLOITATION",
                       "INSTALLATION", "COMMAND_AND_CONTROL", "EXFIL", "DAMAGE"})
ALLOW_KIND = "allow"


def _read_list(path: Path) -> set[str]:
    out = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        value = line.split("#", 1)[0].strip().lower()
        if value:
            out.add(value)
    return out


class Allowlist:
    """Hosts, domains (covering subdomains) and addresses never made into indicators:
    a reviewed file in git plus entries added by FALSE_POSITIVE dispositions."""

    def __init__(self, store: Store, file: str | None = None) -> None:
        self.store = store
        self.file_entries = _read_list(Path(file)) if file else set()

    async def entries(self) -> set[str]:
        stored = {str(r.get("value", "")).lower() for r in
                  await self.store.list_records(ALLOW_KIND, 10_000)}
        return self.file_entries | stored

    @staticmethod
    def covers(entries: set[str], value: str) -> bool:
        value = value.lower()
        if value in entries:
            return True
        domain = value.rpartition("@")[2]
        labels = domain.split(".")
        return any(".".join(labels[i:]) in entries for i in range(len(labels) - 1))

    async def add(self, value: str, reason: str, actor: str) -> None:
        await self.store.put_record(ALLOW_KIND, value.lower(), {
            "value": value.lower(), "reason": reason, "actor": actor, "ts": time.time()})


class Dispositions:
    def __init__(self, settings: Settings, store: Store, remediator: Remediator | None,
                 hunter: Any = None) -> None:
        self.settings = settings
        self.store = store
        self.remediator = remediator
        self.hunter = hunter  # RetroHunter; None: indicators only
        resp = settings.response
        self.allowlist = Allowlist(store, resp.allowlist_file)
        self.freemail = _read_list(Path(resp.freemail_domains_file or FREEMAIL_FILE))

    async def apply(self, alert: JSON, disposition: str, actor: str = "api",
                    comment: str = "", allowlist: bool = False) -> JSON:
        """Record the disposition and act on it; returns what was done."""
        if disposition not in DISPOSITIONS:
            raise ValueError(f"unknown disposition {disposition[:40]!r}")
        previous = alert.get("disposition")
        now = time.time()
        history = [*alert.get("disposition_history", []),
                   {"disposition": disposition, "actor": actor, "comment": comment[:1000],
                    "ts": now}]
        alert = {**alert, "disposition": disposition, "disposition_history": history[-50:]}
        await self.store.save_alert(alert["id"], alert)
        metrics.DISPOSITIONS.labels(disposition).inc()
        await self.store.audit({"event": "disposition", "alert_id": alert["id"],
                                "key": alert.get("key"), "disposition": disposition,
                                "previous": previous, "actor": actor, "ts": now})
        out: JSON = {"id": alert["id"], "disposition": disposition, "previous": previous}
        if disposition == "FALSE_POSITIVE":
            out.update(await self._false_positive(alert, previous, actor, allowlist))
        elif disposition in MALICIOUS:
            out.update(await self._malicious(alert, disposition, actor))
        return out

    async def _false_positive(self, alert: JSON, previous: Any, actor: str,
                              allowlist: bool) -> JSON:
        restored: dict[str, str] = {}
        if self.remediator is not None:
            restored = await self.remediator.restore(str(alert["key"]), actor=actor,
                                                     reason="false_positive")
        rules = sorted({str(f["rule"]) for f in alert.get("findings", []) if f.get("rule")})
        if previous != "FALSE_POSITIVE":  # a repeated call must not count twice
            for rule in rules:
                await self.store.rule_stats_add(rule, {"false_positives": 1})
                metrics.RULE_FALSE_POSITIVES.labels(rule).inc()
        allowed: list[str] = []
        if allowlist:
            values = {str(alert.get("sender") or "")} | {
                host_of(u.get("url", "")) for u in alert.get("urls", [])}
            for value in sorted(v for v in values if v):
                await self.allowlist.add(value, f"false positive {alert['id']}", actor)
                allowed.append(value)
        return {"restored": restored, "rules": rules, "allowlisted": allowed}

    async def indicators_for(self, alert: JSON, disposition: str, actor: str) -> list[Indicator]:
        allow = await self.allowlist.entries()
        ours = self.settings.organisation_domains

        def usable(value: str) -> bool:
            return bool(value) and not Allowlist.covers(allow, value) and not (
                ours and in_domains(value, ours))

        expiry = self.settings.response.indicator_expiry
        reason = f"{disposition} on alert {alert['id']}: {str(alert.get('subject'))[:120]}"
        wanted: list[tuple[str, str]] = []
        sender = str(alert.get("sender") or "").lower()
        if usable(sender) and sender.rpartition("@")[2] not in self.freemail:
            wanted.append(("email", sender))
        for url in alert.get("urls", []):
            link = str(url.get("url", ""))
            host = host_of(link)
            if usable(host):
                wanted += [("url", link), ("domain", host)]
        wanted += [("sha256", str(a.get("sha256"))) for a in alert.get("attachments", [])
                   if a.get("sha256")]
        out: dict[str, Indicator] = {}
        for kind, value in wanted:
            try:
                ind = Indicator.create(kind, value, source=f"disposition:{actor}",
                                       reason=reason, expires=expiry, action="remediate")
            except IndicatorError as exc:
                log.info("no indicator from %s: %s", kind, exc)
                continue
            out.setdefault(ind.key, ind)
        return list(out.values())

    async def _malicious(self, alert: JSON, disposition: str, actor: str) -> JSON:
        indicators = await self.indicators_for(alert, disposition, actor)
        for ind in indicators:
            await self.store.put_indicator(ind.key, ind.to_json())
        await self.store.audit({"event": "indicators_added", "alert_id": alert["id"],
                                "indicators": [i.key for i in indicators], "actor": actor,
                                "ts": time.time()})
        job = None
        if self.hunter is not None and indicators:
            job = await self.hunter.start(reason=f"{disposition} on {alert['id']}", actor=actor)
        return {"indicators": [i.to_json() for i in indicators], "retrohunt": job}
