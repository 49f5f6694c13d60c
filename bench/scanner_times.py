"""Benchmark: time per message of each scanner, and the whole pipeline's ratio to bare YARA.

One run over the phish corpus, on the same raw bytes and the same compiled rules; the
runs take turns every `--chunk` messages so the machine's load falls on all of them alike:
  bare        yara-python `match(data=raw)` per message
  parse       service.mime.parse alone
  expand      the dispatcher's expander (archives, encrypted documents, PDF files)
  <scanner>   each configured scanner alone on the parsed, expanded message
              (median and p99 ms per message, wall time including any thread hop)
  pipeline    Engine.scan_raw with every scanner (parse + expand + all scanners at once
              + verdict), and with YARA alone: msgs/s and ratio to bare

    python bench/scanner_times.py [--corpus ../shared/corpus/phish] [--rules rules]
        [--repeat 3] [--chunk 50] [--only yara,urls] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import time
from pathlib import Path
from typing import Any

from service import mime
from service.config import Settings
from service.engine import Engine, result_json
from service.rules import compile_rules
from service.scanners import headers as headers_scanner
from service.scanners import urls as urls_scanner


def load(corpus: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(corpus.rglob("*")) if p.is_file()]


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {"median_ms": round(statistics.median(ordered) * 1000, 3),
            "p99_ms": round(p99 * 1000, 3),
            "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
            "max_ms": round(ordered[-1] * 1000, 3)}


def bare_seconds(rules: Any, raws: list[bytes]) -> float:
    started = time.perf_counter()
    for raw in raws:
        rules.match(data=raw)
    return time.perf_counter() - started


def pipeline_seconds(engine: Engine, raws: list[bytes], loop: asyncio.AbstractEventLoop
                     ) -> tuple[float, int]:
    """`trawler scan`'s path per message: scan, then the JSON line it prints."""
    flagged = 0
    started = time.perf_counter()
    for raw in raws:
        result = loop.run_until_complete(engine.scan_raw(raw))
        json.dumps(result_json(result, "p"), ensure_ascii=False)
        flagged += result.verdict.flagged
    return time.perf_counter() - started, flagged


def forget() -> None:
    """Empty the memos of pure per-host and per-address answers, so that a round does
    not profit from having seen the same messages in the round before."""
    urls_scanner._protected.cache_clear()
    headers_scanner._check_syntax.cache_clear()


def interleaved(raws: list[bytes], runs: dict[str, Any], chunk: int) -> dict[str, float]:
    """Seconds per run over all messages, alternating runs every `chunk` messages, so
    that a change in the machine's load lands on every run alike (a shared machine's
    load moves by 2x within a minute; a ratio of two runs minutes apart is noise)."""
    total = dict.fromkeys(runs, 0.0)
    forget()
    for start in range(0, len(raws), chunk):
        part = raws[start:start + chunk]
        for name, fn in runs.items():
            total[name] += fn(part)
    return total


async def per_scanner(engine: Engine, raws: list[bytes]) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"parse": [], "expand": []}
    scanners = engine.dispatcher.loaded
    for s in scanners:
        times[s.name] = []
    for raw in raws:
        t0 = time.perf_counter()
        msg = engine.parse(raw)
        t1 = time.perf_counter()
        msg = await engine.dispatcher.expand(msg)
        t2 = time.perf_counter()
        times["parse"].append(t1 - t0)
        times["expand"].append(t2 - t1)
        for s in scanners:
            t = time.perf_counter()
            await s.scan(msg, s.options, engine.ctx)
            times[s.name].append(time.perf_counter() - t)
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="../shared/corpus/phish")
    ap.add_argument("--rules", default="rules")
    ap.add_argument("--repeat", type=int, default=3,
                    help="interleaved rounds; each run's best round is reported")
    ap.add_argument("--chunk", type=int, default=50, help="messages per turn of each run")
    ap.add_argument("--only", default="", help="comma-separated scanners (default: all)")
    ap.add_argument("--out", default="", help="also write the JSON report here")
    args = ap.parse_args()
    raws = load(Path(args.corpus))
    compiled = compile_rules(Path(args.rules))
    base = Settings(rules=args.rules)
    scanners = dict(base.scanners)
    if args.only:
        scanners = {k: v for k, v in scanners.items() if k in args.only.split(",")}
    every = Engine(base.model_copy(update={"scanners": scanners}))
    yara_only = Engine(base.model_copy(update={"scanners": {"yara": {}}}))
    for engine in (every, yara_only):
        engine.load_rules()
    loop = asyncio.new_event_loop()
    # Warm-up: lazy data files, regex caches, the process pool's first start.
    for raw in raws[:50]:
        loop.run_until_complete(every.scan_raw(raw))
    gc.collect()

    flagged = sum(loop.run_until_complete(every.scan_raw(r)).verdict.flagged for r in raws)
    runs = {
        "bare": lambda part: bare_seconds(compiled.rules, part),
        "parse": lambda part: _timed(lambda: [mime.parse(r) for r in part]),
        "all": lambda part: pipeline_seconds(every, part, loop)[0],
        "yara": lambda part: pipeline_seconds(yara_only, part, loop)[0],
    }
    rounds = [interleaved(raws, runs, args.chunk) for _ in range(args.repeat)]
    best = {name: min(r[name] for r in rounds) for name in runs}
    forget()
    times = loop.run_until_complete(per_scanner(every, raws))
    loop.close()

    n = len(raws)
    bare_s, parse_s, all_s, yara_s = best["bare"], best["parse"], best["all"], best["yara"]
    stages = {name: summary(samples) for name, samples in times.items()}
    slowest = max((k for k in stages if k not in ("parse", "expand")),
                  key=lambda k: stages[k]["mean_ms"], default=None)
    report = {
        "messages": n,
        "rules": compiled.count,
        "bare_yara_python": {"msgs_s": round(n / bare_s, 1),
                             "ms_per_msg": round(bare_s / n * 1000, 3)},
        "rounds": args.repeat,
        "ratio_all_per_round": [round(r["bare"] / r["all"], 3) for r in rounds],
        "ratio_yara_per_round": [round(r["bare"] / r["yara"], 3) for r in rounds],
        "parse_ms_per_msg": round(parse_s / n * 1000, 3),
        "pipeline_all_scanners": {"msgs_s": round(n / all_s, 1),
                                  "ms_per_msg": round(all_s / n * 1000, 3),
                                  "ratio_to_bare": round(bare_s / all_s, 3),
                                  "target": 0.33, "flagged": flagged},
        "pipeline_yara_only": {"msgs_s": round(n / yara_s, 1),
                               "ms_per_msg": round(yara_s / n * 1000, 3),
                               "ratio_to_bare": round(bare_s / yara_s, 3),
                               "target": 0.5},
        "per_stage": stages,
        "slowest_scanner": slowest,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


def _timed(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
