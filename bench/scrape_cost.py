"""Scrape cost: how long GET /metrics takes with 500 rules loaded (target: under 50 ms).

Starts `trawler run` on the embedded default with 500 generated stable rules (so the
detections metric carries 500 series at 0, as in production), pushes a few messages
through, then times N scrapes over loopback.

    python bench/scrape_cost.py [--rules 500] [--scrapes 200]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 50.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rule(i: int) -> str:
    sev = ("low", "medium", "high", "critical")[i % 4]
    return (f'rule BENCH_Scrape_Rule{i:04d} {{\n  meta:\n    id = "bench-{i:04d}" '
            f'severity = "{sev}" action = "alert" status = "stable"\n'
            f'  strings:\n    $s = "bench-marker-{i:04d}-never-in-mail"\n'
            f'  condition:\n    $s\n}}\n')


def scrape(url: str) -> tuple[float, int]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=5) as resp:
        body = resp.read()
    return (time.perf_counter() - started) * 1000, len(body)


def exposition_cpu_ms(n_rules: int) -> float:
    """CPU time of one exposition with the same series, in this process: the part of a
    scrape that does not depend on how busy the machine is."""
    from prometheus_client import REGISTRY, generate_latest

    from service import metrics

    metrics.initialise(["journal"], ["yara"], "maildir")
    metrics.initialise_rules([(f"BENCH_Scrape_Rule{i:04d}", "high") for i in range(n_rules)])
    for _ in range(5):
        generate_latest(REGISTRY)
    started = time.process_time()
    for _ in range(100):
        generate_latest(REGISTRY)
    return (time.process_time() - started) * 10


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rules", type=int, default=500)
    p.add_argument("--scrapes", type=int, default=200)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules"
        rules.mkdir()
        for start in range(0, args.rules, 50):  # 50 rules per file, like a rule family
            (rules / f"bench_{start:04d}.yar").write_text(
                "".join(rule(i) for i in range(start, min(start + 50, args.rules))))
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRAWLER_")}
        env.update(TRAWLER_DATA=str(Path(tmp) / "data"), TRAWLER_API_TOKEN="bench-token")
        proc = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "--log-level", "WARNING", "run",
             "--rules", str(rules), "--listen", f"127.0.0.1:{port}"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}/metrics"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    scrape(url)
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        print("trawler did not start", file=sys.stderr)
                        return 1
                    time.sleep(0.1)
            for _ in range(10):  # warm up
                scrape(url)
            times, size = [], 0
            for _ in range(args.scrapes):
                ms, size = scrape(url)
                times.append(ms)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    times.sort()
    cpu_ms = exposition_cpu_ms(args.rules)
    p50 = statistics.median(times)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    verdict = "PASS" if p99 < TARGET_MS else "FAIL"
    print(f"/metrics with {args.rules} rules: {size} bytes, {args.scrapes} scrapes, "
          f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {times[-1]:.2f} ms "
          f"(target p99 < {TARGET_MS:.0f} ms: {verdict}); exposition CPU {cpu_ms:.2f} ms "
          f"per scrape; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
