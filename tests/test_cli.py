"""The CLI as users call it: scan output fields, rules test, check, restore."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from service.cli import main
from service.config import Settings
from service.state import open_store
from service.state.base import QueueItem
from tests.mailgen import RULE, THREE_RECIPIENTS, journal_report, phish
from tests.test_pipeline import RECIPIENTS, Stack, deliver, files


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    d = tmp_path / "rules"
    d.mkdir()
    (d / "test.yar").write_text(RULE)
    return d


def test_scan_json_lines_and_summary(tmp_path: Path, rules: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    mail = tmp_path / "mail" / "sub"
    mail.mkdir(parents=True)
    (mail / "a.eml").write_bytes(journal_report(phish(), THREE_RECIPIENTS))
    (mail / "b.eml").write_bytes(phish("<ok@ok.test>", body="see you at lunch"))
    (mail / ".hidden.eml").write_bytes(b"ignored")
    assert main(["scan", "--rules", str(rules), "--jobs", "1", "--summary",
                 str(tmp_path / "mail")]) == 0
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert [Path(x["path"]).name for x in lines] == ["a.eml", "b.eml"]
    a, b = lines
    for field in ("path", "message_id", "verdict", "action", "findings", "urls",
                  "attachments", "recipients", "elapsed_ms"):
        assert field in a
    assert (a["verdict"], a["action"]) == ("malicious", "remediate")
    assert a["recipients"] == list(RECIPIENTS)
    [finding] = [f for f in a["findings"] if f.get("rule")]
    assert finding["rule"] == "PHISH_Test_PasswordExpiry"
    assert {"scanner", "code", "severity"} <= set(finding)
    assert (b["verdict"], b["action"]) == ("clean", "none")
    summary = json.loads(err.strip().splitlines()[-1])["summary"]
    assert (summary["messages"], summary["flagged"]) == (2, 1)


def test_scan_with_processes_matches_single(tmp_path: Path, rules: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(20):
        (tmp_path / f"{i:02d}.eml").write_bytes(phish(f"<m{i}@x.test>"))
    main(["scan", "--rules", str(rules), "--jobs", "1", str(tmp_path)])
    one = capsys.readouterr().out.splitlines()
    main(["scan", "--rules", str(rules), "--jobs", "2", str(tmp_path)])
    two = capsys.readouterr().out.splitlines()
    strip = [{k: v for k, v in json.loads(x).items() if k != "elapsed_ms"} for x in one]
    assert strip == [{k: v for k, v in json.loads(x).items() if k != "elapsed_ms"}
                     for x in two]


def test_scan_broken_rules_fail_fast(tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.yar").write_text("rule x { condition: nope }")
    started = time.monotonic()
    assert main(["scan", "--rules", str(tmp_path), "--jobs", "2", str(tmp_path)]) == 2
    assert time.monotonic() - started < 30
    assert "bad.yar" in capsys.readouterr().err


def test_rules_test_passes_and_fails(tmp_path: Path, rules: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    match = rules / "tests" / "PHISH_Test_PasswordExpiry" / "match"
    nomatch = rules / "tests" / "PHISH_Test_PasswordExpiry" / "nomatch"
    benign = rules / "tests" / "_benign"
    for d in (match, nomatch, benign):
        d.mkdir(parents=True)
    (match / "1.eml").write_bytes(phish())
    (nomatch / "1.eml").write_bytes(phish(body="Password expires soon, nothing to do."))
    (benign / "newsletter.eml").write_bytes(phish(body="Our newsletter"))
    assert main(["rules", "test", str(rules)]) == 0
    assert "0 failed" in capsys.readouterr().out

    (benign / "bad.eml").write_bytes(phish())  # a benign sample the rule hits
    (rules / "extra.yar").write_text(
        'rule NoMeta { strings: $a = "zzz" condition: $a }\n')
    assert main(["rules", "test", str(rules)]) == 1
    out = capsys.readouterr().out
    assert "hit benign sample" in out
    assert "NoMeta: missing meta" in out
    assert "NoMeta: stable rule has no match samples" not in out  # status unknown


def test_check_reports_each_part(tmp_path: Path, rules: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data_root: {tmp_path / 'data'}\nrules: {rules}\n")
    assert main(["check", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "ok   rules (1 from" in out and "ok   state" in out
    cfg.write_text(f"data_root: {tmp_path / 'data'}\nrules: {tmp_path / 'nope'}\n")
    assert main(["check", "--config", str(cfg)]) == 1
    assert "FAIL rules: rules folder" in capsys.readouterr().out
    cfg.write_text("remediation: {mode: sometimes}\n")
    assert main(["check", "--config", str(cfg)]) == 2
    assert "remediation.mode" in capsys.readouterr().err


def test_restore_by_message_id(tmp_path: Path, rules: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    async def remove() -> None:
        store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
        await store.open()
        stack = Stack(tmp_path, store)
        for r in RECIPIENTS:
            deliver(stack.mailboxes, r, phish())
        await store.enqueue(QueueItem("journal", journal_report(phish(), THREE_RECIPIENTS),
                                      time.time(), "1"))
        await stack.run_once()
        await store.close()

    asyncio.run(remove())
    for r in RECIPIENTS:
        assert files(tmp_path / "mailboxes" / r) == []
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data_root: {tmp_path}\nrules: {rules}\n")
    assert Settings  # config is read from the file
    assert main(["restore", "<phish-1@evil.test>", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert out.count("restored") == 3
    for r in RECIPIENTS:
        assert len(files(tmp_path / "mailboxes" / r)) == 1
    assert main(["restore", "<nope@x>", "--config", str(cfg)]) == 1


async def test_scan_window_keeps_input_order_with_yara_in_threads(rules: Path) -> None:
    from service.engine import Engine
    from service.scancmd import batch_settings, scan_window

    settings = batch_settings(Settings(rules=str(rules), scanners={"yara": {}}))
    assert settings.scanners["yara"] == {"inline_max_bytes": 0}
    kept = batch_settings(Settings(scanners={"yara": {"inline_max_bytes": 10}}))
    assert kept.scanners["yara"] == {"inline_max_bytes": 10}  # the user's choice stands
    engine = Engine(settings)
    engine.load_rules()
    raws = [phish(f"<w{i}@x.test>", body="hello" if i % 3 else phish().decode())
            for i in range(12)]
    results = await scan_window(engine, raws, window=4)
    assert [r.msg.message_id for r in results] == [f"<w{i}@x.test>" for i in range(12)]
    assert [r.verdict.flagged for r in results] == [i % 3 == 0 for i in range(12)]
