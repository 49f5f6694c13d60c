"""Render docs/dashboard.png from the dashboard queries' results of the Prometheus e2e test.

There is no Grafana here, so this draws what each panel would show from the answers a
real Prometheus gave: range queries as lines, instant (table/bar) queries as bars.
Run `TRAWLER_DASHBOARD_RESULTS=bench/results pytest tests/test_prometheus_e2e.py` first; it
writes bench/results/dashboard_results.json.

    python bench/dashboard_render.py [--results FILE] [--out docs/dashboard.png]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def label_of(metric: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(metric.items())
                     if k not in {"namespace", "pod", "job", "instance"}) or "value"


def panels(results: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Group query results by panel title (a panel may carry several queries)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for entry in results["panels"]:
        title, _, legend = entry["title"].rpartition(" [")
        grouped.setdefault(title, []).append({**entry, "legend": legend.rstrip("]")})
    return grouped


def draw(results: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grouped = panels(results)
    cols = 3
    rows = math.ceil(len(grouped) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 3.2 * rows), squeeze=False)
    for ax, (title, entries) in zip(axes.flat, grouped.items(), strict=False):
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
        bars: list[tuple[str, float]] = []
        for entry in entries:
            series = entry.get("range") or []
            moving = [s for s in series
                      if len({v for _, v in s["values"]}) > 1 or "[" not in entry["expr"]]
            if "increase(" in entry["expr"] or "topk(" in entry["expr"] or not moving:
                bars.extend((label_of(_metric(m)), v) for m, v in entry["instant"]
                            if math.isfinite(v))
                continue
            t0 = min(float(s["values"][0][0]) for s in series)
            for s in series:
                xs = [float(t) - t0 for t, _ in s["values"]]
                ys = [float(v) if v != "NaN" else math.nan for _, v in s["values"]]
                name = label_of(s["metric"]) if s["metric"] else entry["legend"]
                ax.plot(xs, ys, label=name, linewidth=1.2)
            ax.set_xlabel("seconds", fontsize=7)
        if bars:
            bars = sorted(bars, key=lambda b: b[1])[-12:]
            ax.barh([b[0] for b in bars], [b[1] for b in bars], color="#3274d9")
            for i, (_, v) in enumerate(bars):
                ax.text(v, i, f" {v:.3g}", va="center", fontsize=7)
        elif ax.lines:
            ax.legend(fontsize=6, loc="upper left")
    for ax in list(axes.flat)[len(grouped):]:
        ax.axis("off")
    notes = "; ".join(results.get("notes", []))
    fig.suptitle("Trawler dashboard, from a real Prometheus scraping the e2e scenario"
                 + (f"\n{notes}" if notes else ""), fontsize=11)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)


def _metric(label: str) -> dict[str, str]:
    # The e2e test stores instant results as "k=v,k=v" strings.
    if label == "{}":
        return {}
    return dict(part.split("=", 1) for part in label.split(",") if "=" in part)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", default=str(ROOT / "bench" / "results" / "dashboard_results.json"))
    p.add_argument("--out", default=str(ROOT / "docs" / "dashboard.png"))
    args = p.parse_args()
    path = Path(args.results)
    if not path.exists():
        print(f"{path} is missing: run pytest tests/test_prometheus_e2e.py first",
              file=sys.stderr)
        return 2
    draw(json.loads(path.read_text()), Path(args.out))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
