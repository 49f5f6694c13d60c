"""Benchmark: full `trawler scan` path against bare yara-python on the same bytes.

Measured in one run, so the ratio holds on a noisy shared machine:
  bare      yara-python `match(data=raw)` over every message, same compiled rules
  bare_ext  yara-python with the message's externals (part_kind "message", sender, ...)
  yara_x    yara-x, one reused Scanner, same rule files, same externals set per call as
            globals (if yara-x is installed); both report how many rules matched
  parse     service.mime.parse alone
  full_1    Engine.scan_raw (parse + every configured scanner + verdict), one process
  full_cli  `trawler scan --jobs N` as a user runs it (subprocess, all cores)
Reports msgs/s, ratios to bare, and peak RSS.

    python bench/scan_throughput.py [--corpus ../shared/corpus/phish] [--rules rules]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from service import mime
from service.config import Settings
from service.engine import Engine
from service.rules import compile_rules, namespace_for, rule_files
from service.scancmd import batch_settings, scan_window


def load(corpus: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(corpus.rglob("*")) if p.is_file()]


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def bench_bare(rules: Any, raws: list[bytes]) -> float:
    started = time.perf_counter()
    for raw in raws:
        rules.match(data=raw)
    return rate(len(raws), time.perf_counter() - started)


def message_externals(raws: list[bytes]) -> list[dict[str, Any]]:
    """The externals the YARA scanner sets for a message's headers-and-bodies call
    (part_kind "message", sender domain, subject, ...): rules gated on them match nothing
    when left at their compile-time defaults, and an engine that matches nothing is fast."""
    from service.scanners.yara import base_externals

    return [base_externals(mime.parse(raw)) for raw in raws]


def bench_bare_ext(rules: Any, raws: list[bytes], exts: list[dict[str, Any]]) -> tuple[float, int]:
    matched = 0
    started = time.perf_counter()
    for raw, ext in zip(raws, exts, strict=True):
        matched += len(rules.match(data=raw, externals=ext))
    return rate(len(raws), time.perf_counter() - started), matched


def bench_yara_x(rules_dir: Path, raws: list[bytes], exts: list[dict[str, Any]]
                 ) -> tuple[float, int] | None:
    """yara-x with one reused Scanner, the same rule files, the same externals set per
    call as globals; returns msgs/s and the number of (message, rule) matches."""
    try:
        import yara_x
    except ImportError:
        return None
    from service.rules import EXTERNALS

    compiler = yara_x.Compiler()
    for name, value in EXTERNALS.items():
        compiler.define_global(name, value)
    for path in rule_files(rules_dir):
        compiler.new_namespace(namespace_for(rules_dir, path))
        compiler.add_source(path.read_text(encoding="utf-8"))
    scanner = yara_x.Scanner(compiler.build())
    matched = 0
    started = time.perf_counter()
    for raw, ext in zip(raws, exts, strict=True):
        for name, value in ext.items():
            scanner.set_global(name, value)
        matched += len(scanner.scan(raw).matching_rules)
    return rate(len(raws), time.perf_counter() - started), matched


def bench_parse(raws: list[bytes]) -> float:
    started = time.perf_counter()
    for raw in raws:
        mime.parse(raw)
    return rate(len(raws), time.perf_counter() - started)


def bench_full(settings: Settings, raws: list[bytes]) -> tuple[float, int]:
    engine = Engine(settings)
    engine.load_rules()
    loop = asyncio.new_event_loop()
    flagged = 0
    started = time.perf_counter()
    for raw in raws:
        result = loop.run_until_complete(engine.scan_raw(raw))
        flagged += result.verdict.flagged
    elapsed = time.perf_counter() - started
    loop.close()
    return rate(len(raws), elapsed), flagged


def bench_full_windowed(settings: Settings, raws: list[bytes]) -> tuple[float, int]:
    """What `trawler scan` does in each process: a window of messages in flight, YARA in
    threads, so YARA on one message overlaps parsing the next (a second core)."""
    engine = Engine(batch_settings(settings))
    engine.load_rules()
    loop = asyncio.new_event_loop()
    flagged = 0
    started = time.perf_counter()
    for i in range(0, len(raws), 16):
        for result in loop.run_until_complete(scan_window(engine, raws[i:i + 16])):
            flagged += result.verdict.flagged
    elapsed = time.perf_counter() - started
    loop.close()
    return rate(len(raws), elapsed), flagged


def bench_cli(corpus: Path, rules_dir: Path, jobs: int) -> tuple[float, int]:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "service.cli", "scan", "--rules", str(rules_dir),
         "--jobs", str(jobs), "--summary", str(corpus)],
        capture_output=True, check=True)
    elapsed = time.perf_counter() - started
    lines = proc.stdout.count(b"\n")
    summary = json.loads(proc.stderr.decode().strip().splitlines()[-1])["summary"]
    rss_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    del summary
    return rate(lines, elapsed), rss_children


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="../shared/corpus/phish")
    ap.add_argument("--rules", default="rules")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    corpus, rules_dir = Path(args.corpus), Path(args.rules)
    raws = load(corpus)
    compiled = compile_rules(rules_dir)
    settings = Settings(rules=str(rules_dir))
    exts = message_externals(raws)
    bare = bench_bare(compiled.rules, raws)
    bare_ext, matched_python = bench_bare_ext(compiled.rules, raws, exts)
    yara_x_result = bench_yara_x(rules_dir, raws, exts)
    parse = bench_parse(raws)
    full, flagged = bench_full(settings, raws)
    windowed, _ = bench_full_windowed(settings, raws)
    yara_only = Settings(rules=str(rules_dir), scanners={"yara": {}})
    full_yara, _ = bench_full(yara_only, raws)
    windowed_yara, _ = bench_full_windowed(yara_only, raws)
    bare_again = bench_bare(compiled.rules, raws)  # bracket the run: noise shows as drift
    cli, cli_rss_kb = bench_cli(corpus, rules_dir, args.jobs)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    bare_mean = (bare + bare_again) / 2
    report = {
        "messages": len(raws),
        "rules": compiled.count,
        "bare_yara_python_msgs_s": round(bare_mean, 1),
        "bare_drift": round(bare_again / bare, 3),
        # Same raw bytes, message externals set per call in both engines; the match
        # counts must agree or the yara-x figure means nothing.
        "yara_python_with_externals_msgs_s": round(bare_ext, 1),
        "yara_python_with_externals_matches": matched_python,
        "yara_x_with_externals_msgs_s": round(yara_x_result[0], 1) if yara_x_result else None,
        "yara_x_with_externals_matches": yara_x_result[1] if yara_x_result else None,
        "parse_only_msgs_s": round(parse, 1),
        "full_one_process_msgs_s": round(full, 1),
        "full_one_process_ratio": round(full / bare_mean, 3),
        "full_one_process_windowed_msgs_s": round(windowed, 1),
        "full_one_process_windowed_ratio": round(windowed / bare_mean, 3),
        "yara_only_one_process_ratio": round(full_yara / bare_mean, 3),
        "yara_only_one_process_windowed_ratio": round(windowed_yara / bare_mean, 3),
        f"cli_jobs_{args.jobs}_msgs_s": round(cli, 1),
        f"cli_jobs_{args.jobs}_ratio": round(cli / bare_mean, 3),
        "flagged": flagged,
        "peak_rss_mb_bench_process": round(peak_kb / 1024, 1),
        "peak_rss_mb_cli_worker": round(cli_rss_kb / 1024, 1),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
