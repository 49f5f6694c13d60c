"""`trawler intel`: add, list, remove against real SQLite and Redis; running scans see it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from service import config
from service.cli import main
from service.engine import Engine
from service.state import open_store
from tests.conftest import drop_prefix

MSG = (b"From: Billing <billing@kit.example>\r\nTo: bob@corp.example\r\n"
       b"Subject: Invoice overdue\r\nMessage-ID: <a@kit.example>\r\n\r\n"
       b"Pay at https://pay.kit.example/now\r\n")


@pytest.fixture(params=["sqlite", "redis"])
def cfg(request: pytest.FixtureRequest, tmp_path: Path, redis_url: str) -> Iterator[Path]:
    prefix = f"test:{uuid.uuid4().hex}:"
    state = (f"sqlite:///{tmp_path / 'state.db'}" if request.param == "sqlite"
             else f"{redis_url}?prefix={prefix}")
    (tmp_path / "ioc.yaml").write_text("- {type: email, value: a@filed.example, reason: git}\n")
    (tmp_path / "rules").mkdir()
    path = tmp_path / "trawler.yaml"
    path.write_text(json.dumps({"state": state, "rules": str(tmp_path / "rules"),
                                "indicators_file": str(tmp_path / "ioc.yaml")}))
    yield path
    if request.param == "redis":
        import asyncio

        asyncio.run(drop_prefix(redis_url, prefix))


def listed(capsys: pytest.CaptureFixture[str], cfg: Path, *extra: str) -> list[dict[str, object]]:
    capsys.readouterr()
    assert main(["intel", "list", "--json", "--config", str(cfg), *extra]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_add_list_remove(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["intel", "add", "domain", "Kit.Example.", "--reason", "phish kit",
                 "--source", "case-17", "--expires", "30d", "--action", "remediate",
                 "--config", str(cfg)]) == 0
    assert "added domain:kit.example" in capsys.readouterr().out
    rows = listed(capsys, cfg)
    assert [(r["type"], r["value"], r["origin"]) for r in rows] == [
        ("domain", "kit.example", "store"), ("email", "a@filed.example", "file")]
    assert rows[0]["source"] == "case-17" and rows[0]["action"] == "remediate"
    assert [r["value"] for r in listed(capsys, cfg, "--type", "email")] == ["a@filed.example"]
    assert main(["intel", "remove", "domain", "KIT.example", "--config", str(cfg)]) == 0
    assert main(["intel", "remove", "domain", "kit.example", "--config", str(cfg)]) == 1
    assert [r["origin"] for r in listed(capsys, cfg)] == ["file"]


def test_expired_hidden_unless_all(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["intel", "add", "sha256", "a" * 64, "--reason", "x", "--expires",
                 "2001-01-01", "--config", str(cfg)]) == 0
    assert [r["type"] for r in listed(capsys, cfg)] == ["email"]
    assert [r["expired"] for r in listed(capsys, cfg, "--all")] == [False, True]


def test_bad_input_is_a_clear_error(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["intel", "add", "url", "no url here", "--reason", "x",
                 "--config", str(cfg)]) == 2
    assert "not a valid url" in capsys.readouterr().err
    assert main(["intel", "add", "domain", "x.example", "--reason", "x", "--expires", "soon",
                 "--config", str(cfg)]) == 2
    assert "expiry" in capsys.readouterr().err


async def test_a_running_engine_matches_what_intel_added(cfg: Path) -> None:
    settings = config.load(cfg)
    store = open_store(settings.state_url)
    await store.open()
    try:
        engine = Engine(settings, store=store)
        engine.load_rules()
        before = await engine.scan_raw(MSG)
        assert not [f for f in before.verdict.findings if f.scanner == "indicators"]
        # the CLI is a separate process in real life; same store, new connection
        import asyncio

        rc = await asyncio.to_thread(main, ["intel", "add", "url_path", "pay.kit.example/now",
                                            "--reason", "case 18", "--config", str(cfg)])
        assert rc == 0
        engine.ctx.indicators.refresh_s = 0.0  # the default is seconds; do not wait here
        after = await engine.scan_raw(MSG)
        [f] = [f for f in after.verdict.findings if f.scanner == "indicators"]
        assert f.rule == "url_path:pay.kit.example/now" and after.verdict.flagged
    finally:
        await store.close()
