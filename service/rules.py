"""The live YARA rule set: compile the rules folder, hot-reload it, keep the last good one.

Security teams edit rules in git and a sidecar (git-sync) swaps the checkout under a
symlink. A change is compiled aside and swapped in only if it compiles; a broken push
leaves the last good set live, with a metric and a log line saying why.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yara

from service import metrics
from service.model import Severity

log = logging.getLogger(__name__)

RULE_SUFFIXES = (".yar", ".yara")
# Folders that hold samples, not rules.
SKIP_DIRS = frozenset({"tests", ".git"})

# Every external a rule may use, with its type fixed by the default. The scanner sets
# them per scan call; declaring them here lets rules compile against them.
EXTERNALS: dict[str, str | int | bool] = {
    "part_kind": "",  # "message" (headers + bodies) or "attachment"
    "filename": "",  # attachment file name, lower case
    "extension": "",  # last suffix of filename, lower case, without the dot
    "content_type": "",  # sniffed type when known, else declared
    "declared_type": "",
    "sender_domain": "",  # From: domain, lower case
    "display_name": "",  # From: display name, lower case
    "subject": "",  # lower case
    "attachment_count": 0,
    "url_count": 0,
    "journaled": False,
    "sender_freemail": False,  # From domain is on the free-mail list (service/senderdata.py)
    "reply_to_domain": "",  # first Reply-To address's domain, lower case
    "reply_to_freemail": False,  # that domain is on the free-mail list
    "body_chars": 0,  # characters of all decoded text/HTML bodies (HTML counts markup)
}


class RuleError(Exception):
    """Rules failed to compile; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class CompiledRules:
    rules: Any  # yara.Rules
    count: int
    files: tuple[str, ...]
    fingerprint: tuple[Any, ...]


def rule_files(root: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        found.extend(Path(dirpath) / f for f in sorted(filenames)
                     if f.endswith(RULE_SUFFIXES) and not f.startswith("."))
    return found


def namespace_for(root: Path, path: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    return ".".join(rel.parts)


def fingerprint(root: Path) -> tuple[Any, ...]:
    """Cheap change detection: the resolved target (symlink swaps) plus stat of each file."""
    entries: list[Any] = [os.path.realpath(root)]
    for path in rule_files(root):
        try:
            st = path.stat()
        except OSError:
            continue
        entries.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(entries)


def rule_severities(rules: Any) -> list[tuple[str, str]]:
    """(rule, severity) of every stable rule, as the detections metric labels them."""
    out = []
    for rule in rules:
        meta = rule.meta
        if str(meta.get("status", "stable")) == "stable":
            out.append((rule.identifier, Severity.parse(meta.get("severity"),
                                                         Severity.MEDIUM).value))
    return out


def compile_rules(root: Path) -> CompiledRules:
    if not root.is_dir():
        raise RuleError(f"rules folder {root} does not exist")
    fp = fingerprint(root)
    files = rule_files(root)
    filepaths = {namespace_for(root, p): str(p) for p in files}
    try:
        rules = yara.compile(filepaths=filepaths, externals=EXTERNALS)
    except yara.SyntaxError as exc:
        raise RuleError(f"rules do not compile: {exc}") from None
    except yara.Error as exc:
        raise RuleError(f"rules do not compile: {exc}") from None
    count = sum(1 for _ in rules)
    return CompiledRules(rules=rules, count=count, files=tuple(filepaths.values()),
                         fingerprint=fp)


class RuleLibrary:
    """Holds the live compiled rules; `current` is swapped atomically on reload."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._current: CompiledRules | None = None
        self.last_error: str | None = None
        self._failed_fingerprint: tuple[Any, ...] | None = None

    @property
    def current(self) -> CompiledRules:
        if self._current is None:
            raise RuleError("rules not loaded")
        return self._current

    @property
    def loaded(self) -> bool:
        return self._current is not None

    def load(self) -> CompiledRules:
        """First load: a failure here is fatal to the caller (no last good set yet)."""
        compiled = compile_rules(self.root)
        self._swap(compiled)
        return compiled

    def _swap(self, compiled: CompiledRules) -> None:
        self._current = compiled
        self.last_error = None
        self._failed_fingerprint = None
        metrics.RULES_LOADED.set(compiled.count)
        metrics.initialise_rules(rule_severities(compiled.rules))

    def reload_if_changed(self) -> bool | None:
        """True: swapped in a new set; False: change did not compile; None: no change."""
        fp = fingerprint(self.root)
        if self._current is not None and fp == self._current.fingerprint:
            return None
        if fp == self._failed_fingerprint:
            return False  # same broken files as last time: do not recompile or re-alert
        try:
            compiled = compile_rules(self.root)
        except RuleError as exc:
            self._failed_fingerprint = fp
            self.last_error = str(exc)
            metrics.RULE_RELOADS.labels("failure").inc()
            log.error("rule reload failed, keeping the last good rules: %s", exc)
            return False
        self._swap(compiled)
        metrics.RULE_RELOADS.labels("success").inc()
        log.info("rules reloaded: %d rules from %d files", compiled.count, len(compiled.files))
        return True

    async def watch(self, stop: asyncio.Event, interval_s: float) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
            except TimeoutError:
                await asyncio.to_thread(self.reload_if_changed)
