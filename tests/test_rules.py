"""Hot reload: a good change swaps in, a broken one leaves the last good set live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from service.rules import RuleError, RuleLibrary, compile_rules, namespace_for

GOOD = 'rule A { strings: $a = "alpha" condition: $a }\n'
GOOD2 = GOOD + 'rule B { strings: $b = "beta" condition: $b }\n'
BROKEN = 'rule C { condition: undefined_identifier }\n'


def _reloads(result: str) -> float:
    return REGISTRY.get_sample_value("trawler_rule_reloads_total", {"result": result}) or 0.0


def _bump(path: Path, text: str) -> None:
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_reload_swaps_good_and_keeps_last_good(tmp_path: Path) -> None:
    rule = tmp_path / "a.yar"
    rule.write_text(GOOD)
    lib = RuleLibrary(tmp_path)
    assert lib.load().count == 1
    assert lib.reload_if_changed() is None  # nothing changed

    ok_before, bad_before = _reloads("success"), _reloads("failure")
    _bump(rule, GOOD2)
    assert lib.reload_if_changed() is True
    assert lib.current.count == 2
    assert REGISTRY.get_sample_value("trawler_rules_loaded") == 2

    _bump(rule, BROKEN)
    assert lib.reload_if_changed() is False
    assert lib.current.count == 2  # last good set still live
    assert lib.last_error and "a.yar" in lib.last_error
    assert lib.reload_if_changed() is False  # same broken files: not re-counted
    assert (_reloads("success"), _reloads("failure")) == (ok_before + 1, bad_before + 1)
    assert lib.current.rules.match(data=b"beta")


def test_symlink_swap_is_seen(tmp_path: Path) -> None:
    # git-sync publishes a new checkout by swapping a symlink
    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    v1.mkdir()
    v2.mkdir()
    (v1 / "a.yar").write_text(GOOD)
    (v2 / "a.yar").write_text(GOOD2)
    link = tmp_path / "current"
    link.symlink_to(v1)
    lib = RuleLibrary(link)
    lib.load()
    tmp_link = tmp_path / "tmp-link"
    tmp_link.symlink_to(v2)
    tmp_link.replace(link)
    assert lib.reload_if_changed() is True
    assert lib.current.count == 2


def test_namespace_from_path_and_tests_folder_skipped(tmp_path: Path) -> None:
    (tmp_path / "phish").mkdir()
    (tmp_path / "phish" / "lures.yar").write_text(GOOD)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "ignored.yar").write_text(BROKEN)
    compiled = compile_rules(tmp_path)
    assert compiled.count == 1
    assert namespace_for(tmp_path, tmp_path / "phish" / "lures.yar") == "phish.lures"


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="does not exist"):
        compile_rules(tmp_path / "nope")
