"""Every Prometheus metric Trawler exports, defined once.

Labels come from closed sets only (scanner names, rule names from git, result enums):
never user names, URLs or message ids, which would make the series unbounded.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, disable_created_metrics

# `_created` series double the series count and nobody graphs them.
disable_created_metrics()  # type: ignore[no-untyped-call]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_REMEDIATE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)

MESSAGES = Counter(
    "trawler_messages_total",
    "Journal messages processed, by collector and outcome",
    ["collector", "outcome"],  # outcome: clean | suspicious | malicious | duplicate | error
)
SCAN_DURATION = Histogram(
    "trawler_scan_duration_seconds",
    "Time one scanner spent on one message",
    ["scanner"],
    buckets=_LATENCY_BUCKETS,
)
SCANNER_ERRORS = Counter(
    "trawler_scanner_errors_total",
    "Scanner runs that raised or timed out",
    ["scanner", "kind"],  # kind: error | timeout | deadline
)
DETECTIONS = Counter(
    "trawler_detections_total",
    "Rule hits, by rule and severity",
    ["rule", "severity"],
)
REMEDIATIONS = Counter(
    "trawler_remediations_total",
    "Per-recipient remediation results, by mailbox backend",
    ["backend", "result"],
)
TIME_TO_REMEDIATE = Histogram(
    "trawler_time_to_remediate_seconds",
    "Journal arrival to gone from every recipient mailbox",
    buckets=_REMEDIATE_BUCKETS,
)
CLICKS = Counter(
    "trawler_clicks_total",
    "Clicks on links of flagged messages",
    ["timing"],  # before_remediation | after_remediation
)
QUEUE_DEPTH = Gauge("trawler_queue_depth", "Messages enqueued and not yet acked")
COLLECTOR_LAST_SUCCESS = Gauge(
    "trawler_collector_last_success_timestamp_seconds",
    "Last time a collector polled its journal without error",
    ["collector"],
)
RULES_LOADED = Gauge("trawler_rules_loaded", "YARA rules in the live rule set")
RULE_RELOADS = Counter(
    "trawler_rule_reloads_total",
    "Rule reload attempts, by result",
    ["result"],  # success | failure
)
STORE_ERRORS = Counter(
    "trawler_store_errors_total",
    "Store operations that failed",
    ["operation"],
)

__all__ = [
    "CLICKS",
    "COLLECTOR_LAST_SUCCESS",
    "DETECTIONS",
    "MESSAGES",
    "QUEUE_DEPTH",
    "REGISTRY",
    "REMEDIATIONS",
    "RULES_LOADED",
    "RULE_RELOADS",
    "SCANNER_ERRORS",
    "SCAN_DURATION",
    "STORE_ERRORS",
    "TIME_TO_REMEDIATE",
]
