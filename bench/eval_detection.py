"""Measure the rule pack on the development corpus: flag rates and per-rule hits.

Runs `trawler scan --summary` over ../shared/corpus/phish and ../shared/corpus/ham
(paths relative to the repo root; override with --phish/--ham) and prints, for each,
how many messages were flagged (suspicious or malicious) and how often each rule hit.
This is a development figure: the corpus is what the rules were tuned against.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"
FLAGGED = frozenset({"suspicious", "malicious"})


@dataclass
class Tally:
    messages: int = 0
    flagged: int = 0
    errors: int = 0
    rules: Counter[str] = field(default_factory=Counter)
    missed: list[str] = field(default_factory=list)
    hit: list[str] = field(default_factory=list)


def scan(folder: Path, rules: Path | None, jobs: int | None) -> Tally:
    cmd = ["trawler", "scan", "--summary"]
    if rules is not None:
        cmd += ["--rules", str(rules)]
    if jobs is not None:
        cmd += ["--jobs", str(jobs)]
    cmd.append(str(folder))
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0 and not proc.stdout:
        raise SystemExit(f"trawler scan failed on {folder}: {proc.stderr.strip()[-2000:]}")
    tally = Tally()
    for line in proc.stdout.splitlines():
        row = json.loads(line)
        tally.messages += 1
        if "error" in row:
            tally.errors += 1
            continue
        name = Path(row["path"]).name
        if row["verdict"] in FLAGGED:
            tally.flagged += 1
            tally.hit.append(name)
        else:
            tally.missed.append(name)
        # A rule counts once per message however many parts it hit.
        tally.rules.update({f["rule"] for f in row["findings"] if f.get("rule")})
    return tally


def rate(n: int, total: int) -> str:
    return f"{n}/{total} ({100.0 * n / total:.2f}%)" if total else "0/0"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phish", type=Path, default=CORPUS / "phish")
    parser.add_argument("--ham", type=Path, default=CORPUS / "ham")
    parser.add_argument("--rules", type=Path, default=None)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--list", choices=("phish-missed", "ham-flagged"),
                        help="also print the file names of missed phish or flagged ham")
    args = parser.parse_args(argv)
    phish = scan(args.phish, args.rules, args.jobs)
    ham = scan(args.ham, args.rules, args.jobs)
    print(f"phish flagged: {rate(phish.flagged, phish.messages)}  errors: {phish.errors}")
    print(f"ham flagged:   {rate(ham.flagged, ham.messages)}  errors: {ham.errors}")
    print()
    names = sorted(set(phish.rules) | set(ham.rules),
                   key=lambda r: (-phish.rules[r], ham.rules[r], r))
    width = max((len(n) for n in names), default=4)
    print(f"{'rule':<{width}}  {'phish':>6}  {'ham':>5}")
    for name in names:
        print(f"{name:<{width}}  {phish.rules[name]:>6}  {ham.rules[name]:>5}")
    if args.list == "phish-missed":
        print("\n".join(["", "missed phish:", *phish.missed]))
    elif args.list == "ham-flagged":
        print("\n".join(["", "flagged ham:", *ham.hit]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
