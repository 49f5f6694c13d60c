"""Every Prometheus metric Trawler exports, defined once.

Labels come from closed sets only (scanner names, rule names from git, result enums):
never user names, URLs or message ids, which would make the series unbounded.
"""

from __future__ import annotations

from collections.abc import Iterable

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
    ["operation"],  # one of STORE_OPERATIONS
)

# Added for operators (issue 7): lag, in-flight work, alerts and the response loop.
QUEUE_WAIT = Histogram(
    "trawler_queue_wait_seconds",
    "Journal arrival to the pipeline picking the message up (collector + queue lag)",
    buckets=_REMEDIATE_BUCKETS,
)
INFLIGHT = Gauge("trawler_inflight_messages", "Messages this process is scanning or acting on")
COLLECTOR_ERRORS = Counter(
    "trawler_collector_errors_total",
    "Collector crashes that forced a restart of its loop",
    ["collector"],
)
ALERTS = Counter(
    "trawler_alerts_total",
    "Alerts raised, by verdict",
    ["verdict"],  # suspicious | malicious
)
DISPOSITIONS = Counter(
    "trawler_dispositions_total",
    "Analyst dispositions recorded on alerts, by kill-chain phase",
    ["disposition"],  # one of DISPOSITIONS_SET
)
FILE_OPENS = Counter(
    "trawler_file_opens_total",
    "Opens of attachments of flagged messages reported by endpoints",
    ["timing"],  # before_remediation | after_remediation
)

# Closed label sets, so start-up can create every series at 0: a panel that shows
# "0 clicks" is information, a panel that shows "no data" is a question.
OUTCOMES = ("clean", "suspicious", "malicious", "duplicate", "error")
SCANNER_ERROR_KINDS = ("error", "timeout", "deadline")
REMEDIATION_RESULTS = ("removed", "not_found", "failed", "shadow", "skipped")
TIMINGS = ("before_remediation", "after_remediation")
RELOAD_RESULTS = ("success", "failure")
ALERT_VERDICTS = ("suspicious", "malicious")
STORE_OPERATIONS = ("consume", "queue_depth")
DISPOSITIONS_SET = (
    "FALSE_POSITIVE", "IGNORE", "REVIEWED", "GRAYWARE", "POLICY_VIOLATION", "RECONNAISSANCE",
    "WEAPONIZATION", "DELIVERY", "EXPLOITATION", "INSTALLATION", "COMMAND_AND_CONTROL",
    "EXFIL", "DAMAGE",
)


def initialise(collectors: Iterable[str], scanners: Iterable[str], backend: str | None) -> None:
    """Create every series of the closed label sets at 0 (idempotent)."""
    for collector in collectors:
        COLLECTOR_ERRORS.labels(collector)
        for outcome in OUTCOMES:
            MESSAGES.labels(collector, outcome)
    for scanner in scanners:
        SCAN_DURATION.labels(scanner)
        for kind in SCANNER_ERROR_KINDS:
            SCANNER_ERRORS.labels(scanner, kind)
    if backend is not None:
        for result in REMEDIATION_RESULTS:
            REMEDIATIONS.labels(backend, result)
    for timing in TIMINGS:
        CLICKS.labels(timing)
        FILE_OPENS.labels(timing)
    for result in RELOAD_RESULTS:
        RULE_RELOADS.labels(result)
    for verdict in ALERT_VERDICTS:
        ALERTS.labels(verdict)
    for disposition in DISPOSITIONS_SET:
        DISPOSITIONS.labels(disposition)
    for operation in STORE_OPERATIONS:
        STORE_ERRORS.labels(operation)


def initialise_rules(rules: Iterable[tuple[str, str]]) -> None:
    """Detections per (rule, severity) at 0, so the first hit shows as an increase."""
    for rule, severity in rules:
        DETECTIONS.labels(rule, severity)

__all__ = [
    "ALERTS",
    "CLICKS",
    "COLLECTOR_ERRORS",
    "COLLECTOR_LAST_SUCCESS",
    "DETECTIONS",
    "DISPOSITIONS",
    "FILE_OPENS",
    "INFLIGHT",
    "MESSAGES",
    "QUEUE_DEPTH",
    "QUEUE_WAIT",
    "REGISTRY",
    "REMEDIATIONS",
    "RULES_LOADED",
    "RULE_RELOADS",
    "SCANNER_ERRORS",
    "SCAN_DURATION",
    "STORE_ERRORS",
    "TIME_TO_REMEDIATE",
    "initialise",
    "initialise_rules",
]

# Response loop (issue 6): web events, alert sinks, rule false positives, retro-hunt.
WEB_EVENTS = Counter(
    "trawler_web_events_total",
    "Proxy / web-gateway and endpoint events ingested, by result",
    ["kind", "result"],  # kind: web | file; result: matched | unmatched | invalid
)
RULE_FALSE_POSITIVES = Counter(
    "trawler_rule_false_positives_total",
    "Alerts dispositioned FALSE_POSITIVE, per rule that fired on them",
    ["rule"],
)
ALERT_DELIVERIES = Counter(
    "trawler_alert_deliveries_total",
    "Alert sink deliveries, by sink and result",
    ["sink", "result"],  # one of SINKS; one of SINK_RESULTS
)
RETROHUNT_MESSAGES = Counter(
    "trawler_retrohunt_messages_total",
    "Journal messages re-read by retro-hunt jobs, by result",
    ["result"],  # scanned | flagged | remediated | error
)
RETROHUNT_RUNNING = Gauge("trawler_retrohunt_running", "Retro-hunt jobs running in this process")
RESPONSE_WEB_KINDS = ("web", "file")
RESPONSE_EVENT_RESULTS = ("matched", "unmatched", "invalid")
SINKS = ("webhook", "redis_stream", "log")
SINK_RESULTS = ("delivered", "retry", "dead_letter")
RETROHUNT_RESULTS = ("scanned", "flagged", "remediated", "error")


def initialise_response(rules: Iterable[str] = ()) -> None:
    """Response-loop series at 0 (idempotent)."""
    for kind in RESPONSE_WEB_KINDS:
        for result in RESPONSE_EVENT_RESULTS:
            WEB_EVENTS.labels(kind, result)
    for sink in SINKS:
        for result in SINK_RESULTS:
            ALERT_DELIVERIES.labels(sink, result)
    for result in RETROHUNT_RESULTS:
        RETROHUNT_MESSAGES.labels(result)
    for rule in rules:
        RULE_FALSE_POSITIVES.labels(rule)
