"""`trawler rules test`: every rule compiles, carries its meta, and behaves on its samples.

Samples go through the full parse + YARA path, so a rule is tested exactly as it runs
in production: rules/tests/<rule>/match/*.eml must hit, .../nomatch/*.eml must not, and
no rule may hit the shared benign set rules/tests/_benign/.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from service.config import Settings
from service.engine import Engine
from service.model import Action, Severity
from service.rules import RuleError, compile_rules

REQUIRED_META = ("id", "description", "severity", "action", "status")
ALLOWED_META = frozenset(
    {"id", "description", "severity", "action", "status", "author", "date", "reference",
     "attack_type", "tactic"}
)
STATUSES = ("stable", "test", "nursery")
BENIGN = "_benign"


@dataclass
class Report:
    passed: int = 0
    failures: list[str] = field(default_factory=list)

    def check(self, ok: bool, what: str) -> None:
        if ok:
            self.passed += 1
        else:
            self.failures.append(what)


def check_meta(rules: Any, report: Report) -> dict[str, str]:
    """Rule name -> status, after checking each rule's meta against the closed set."""
    statuses: dict[str, str] = {}
    ids: dict[str, str] = {}
    for rule in rules:
        meta = rule.meta
        name = rule.identifier
        missing = [k for k in REQUIRED_META if k not in meta]
        report.check(not missing, f"{name}: missing meta {', '.join(missing)}")
        unknown = sorted(set(meta) - ALLOWED_META)
        report.check(not unknown, f"{name}: unknown meta key(s) {', '.join(unknown)}")
        report.check(str(meta.get("severity", "")) in Severity.__members__.values(),
                     f"{name}: severity must be one of {', '.join(Severity)}")
        report.check(str(meta.get("action", "")) in (Action.ALERT, Action.REMEDIATE),
                     f"{name}: action must be alert or remediate")
        status = str(meta.get("status", ""))
        report.check(status in STATUSES, f"{name}: status must be one of {', '.join(STATUSES)}")
        rid = str(meta.get("id", ""))
        report.check(rid not in ids, f"{name}: id {rid} also used by {ids.get(rid)}")
        ids.setdefault(rid, name)
        statuses[name] = status
    return statuses


async def _hits(engine: Engine, path: Path) -> set[str]:
    raw = await asyncio.to_thread(path.read_bytes)
    result = await engine.scan_raw(raw)
    return {f.rule for f in result.verdict.findings if f.rule}


async def _run(root: Path, out: TextIO) -> Report:
    report = Report()
    try:
        compiled = compile_rules(root)
    except RuleError as exc:
        report.failures.append(str(exc))
        return report
    statuses = check_meta(compiled.rules, report)
    engine = Engine(Settings(rules=str(root), scanners={"yara": {}}))
    engine.load_rules()
    samples = root / "tests"
    for name, status in sorted(statuses.items()):
        match = sorted((samples / name / "match").glob("*.eml"))
        nomatch = sorted((samples / name / "nomatch").glob("*.eml"))
        if status == "stable":
            report.check(bool(match), f"{name}: stable rule has no match samples")
        for path in match:
            report.check(name in await _hits(engine, path), f"{name}: did not hit {path}")
        for path in nomatch:
            report.check(name not in await _hits(engine, path), f"{name}: hit {path}")
    unknown_dirs = sorted(p.name for p in samples.glob("*")
                          if p.is_dir() and p.name != BENIGN and p.name not in statuses)
    for d in unknown_dirs:
        report.failures.append(f"{samples / d}: samples for a rule that does not exist")
    for path in sorted((samples / BENIGN).rglob("*.eml")):
        hits = {h for h in await _hits(engine, path) if statuses.get(h) == "stable"}
        report.check(not hits, f"{', '.join(sorted(hits))}: hit benign sample {path}")
    out.write(f"{compiled.count} rules compiled from {len(compiled.files)} files\n")
    return report


def run_rules_test(root: str, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    report = asyncio.run(_run(Path(root), out))
    for failure in report.failures:
        out.write(f"FAIL {failure}\n")
    out.write(f"{report.passed} passed, {len(report.failures)} failed\n")
    return 1 if report.failures else 0
