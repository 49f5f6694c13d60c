"""Config: unknown keys and names are errors at start; env overrides; secrets by name only."""

from __future__ import annotations

from pathlib import Path

import pytest

from service import config
from service.config import ConfigError
from service.scanners.base import load_scanners


def test_defaults_are_the_embedded_layout() -> None:
    s = config.load(None, environ={})
    assert s.data_root == "./trawler-data"
    assert s.state_url == f"sqlite:///{Path.cwd() / 'trawler-data' / 'state.db'}"
    assert s.listen == "127.0.0.1:8080"
    assert s.remediation.mode == "enforce"


def test_unknown_key_names_the_key(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("remediation:\n  mode: enforce\n  min_severty: high\n")
    with pytest.raises(ConfigError, match=r"remediation\.min_severty: unknown key"):
        config.load(f, environ={})


def test_bad_value_names_the_key(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("remediation:\n  mode: sometimes\n")
    with pytest.raises(ConfigError, match=r"remediation\.mode"):
        config.load(f, environ={})


def test_env_overrides_nested_keys(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("organisation_domains: [Corp.Example]\n")
    s = config.load(f, environ={"TRAWLER_REMEDIATION__MODE": "shadow",
                                "TRAWLER_LIMITS__MAX_DEPTH": "3",
                                "TRAWLER_DATA": "/srv/trawler",
                                "TRAWLER_API_TOKEN": "s3cret"})
    assert s.remediation.mode == "shadow"
    assert s.limits.max_depth == 3
    assert s.data_root == "/srv/trawler"
    assert s.organisation_domains == ("corp.example",)
    assert "s3cret" not in config.dump_redacted(s)


def test_unknown_scanner_and_option_are_errors() -> None:
    with pytest.raises(ConfigError, match="unknown scanner 'yarra'"):
        load_scanners({"yarra": {}})
    with pytest.raises(ConfigError, match=r"scanners\.yara: unknown option\(s\) scan_attachment"):
        load_scanners({"yara": {"scan_attachment": True}})
    with pytest.raises(ConfigError, match="expected true or false"):
        load_scanners({"yara": {"scan_attachments": "maybe"}})
    [s] = load_scanners({"yara": {"max_evidence": "2"}})
    assert s.options.max_evidence == 2


def test_secret_from_env_or_file(tmp_path: Path) -> None:
    f = tmp_path / "pw"
    f.write_text("from-file\n")
    assert config.read_secret("PW", None, {"PW": "from-env"}) == "from-env"
    assert config.read_secret("PW", str(f), {}) == "from-file"
    with pytest.raises(ConfigError, match="cannot read secret file"):
        config.read_secret(None, str(tmp_path / "missing"), {})
