"""Setup the Exchange (EWS) and Graph collector tests share: a SQLite store, the scan-and-remove
stack behind a backend, and a `trawler check` run."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from service.actions.remediate import Remediator
from service.collectors.base import MailboxBackend
from service.config import Settings
from service.engine import Engine
from service.pipeline import Pipeline
from service.state.base import Store
from tests.mailgen import RULE


def rules_dir(tmp_path: Path) -> Path:
    """A rules folder holding the test rule (tests.mailgen.RULE)."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "test.yar").write_text(RULE)
    return rules


def remediation_stack(tmp_path: Path, store: Store,
                      backend: MailboxBackend) -> tuple[Remediator, Pipeline]:
    """Engine, Remediator and Pipeline (consumer "t1") over backend, for corp.example."""
    s = Settings.model_validate({"data_root": str(tmp_path), "rules": str(rules_dir(tmp_path)),
                                 "organisation_domains": ["corp.example"],
                                 "remediation": {"retries": 1, "retry_backoff_s": 0.01}})
    engine = Engine(s, store=store)
    engine.load_rules()
    remediator = Remediator(backend, store, s.remediation, s.organisation_domains)
    return remediator, Pipeline(s, store, engine, remediator, "t1")


async def trawler_check(tmp_path: Path, mailboxes: str,
                        env: dict[str, str]) -> tuple[int | None, str]:
    """Run `trawler check` on a config with the given mailboxes section: exit code and output."""
    rules = rules_dir(tmp_path)
    config = tmp_path / "trawler.yaml"
    config.write_text(
        f"data_root: {tmp_path}\nrules: {rules}\norganisation_domains: [corp.example]\n"
        + mailboxes)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service.cli", "check", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**env, "PATH": "/usr/bin:/bin"}, cwd=str(Path.cwd()))
    out, _ = await asyncio.wait_for(proc.communicate(), 40)
    return proc.returncode, out.decode()
