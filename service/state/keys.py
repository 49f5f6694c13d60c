"""Every Redis key and stream name Trawler uses, in one place, under one prefix.

Several deployments (or tests) can share one Redis because nothing is written outside
the prefix. Key parts that come from mail (dedup keys, addresses) are used verbatim:
Redis keys are binary-safe and the prefix plus a fixed kind keeps them apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.state.codec import enc_text

DEFAULT_PREFIX = "trawler:"
# Dedup, verdict and remediation records outlive any sane replay or restore window.
DEFAULT_TTL_S = 30 * 24 * 3600
# The audit stream is trimmed approximately (MAXLEN ~) so trimming stays O(1).
DEFAULT_AUDIT_MAXLEN = 100_000
QUEUE_GROUP = "pipeline"

# Stream entry fields of a queued message.
F_COLLECTOR = b"collector"
F_RAW = b"raw"
F_RECEIVED_AT = b"received_at"
F_REF = b"ref"
F_EVENT = b"event"


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = DEFAULT_PREFIX

    @property
    def queue(self) -> bytes:
        return enc_text(f"{self.prefix}queue")

    @property
    def checkpoints(self) -> bytes:
        return enc_text(f"{self.prefix}checkpoints")

    def seen(self, key: str) -> bytes:
        return enc_text(f"{self.prefix}seen:{key}")

    def recipients(self, key: str) -> bytes:
        return enc_text(f"{self.prefix}recipients:{key}")

    def verdict(self, key: str) -> bytes:
        return enc_text(f"{self.prefix}verdict:{key}")

    @property
    def alerts(self) -> bytes:
        """Hash: alert id -> alert JSON."""
        return enc_text(f"{self.prefix}alerts")

    @property
    def alerts_by_time(self) -> bytes:
        """Sorted set: alert id scored by creation time, for newest-first listing."""
        return enc_text(f"{self.prefix}alerts:by_time")

    @property
    def alerts_by_message(self) -> bytes:
        """Hash: dedup key -> alert id."""
        return enc_text(f"{self.prefix}alerts:by_message")

    def remediations(self, key: str) -> bytes:
        """Hash: recipient -> remediation record JSON."""
        return enc_text(f"{self.prefix}remediation:{key}")

    @property
    def audit(self) -> bytes:
        return enc_text(f"{self.prefix}audit")

    def window(self, name: str) -> bytes:
        return enc_text(f"{self.prefix}window:{name}")

    def counter(self, name: str) -> bytes:
        return enc_text(f"{self.prefix}counter:{name}")

    @property
    def indicators(self) -> bytes:
        """Hash: "type:value" -> indicator JSON."""
        return enc_text(f"{self.prefix}indicators")

    # response loop (issue 6)

    def record(self, kind: str, rid: str) -> bytes:
        """String: one JSON document, with its own expiry."""
        return enc_text(f"{self.prefix}record:{kind}:{rid}")

    def records(self, kind: str) -> bytes:
        """Sorted set: record ids of a kind scored by write time."""
        return enc_text(f"{self.prefix}records:{kind}")

    @property
    def url_index(self) -> bytes:
        """Stream: (token, key, expires_at) appended per scanned message; trimmed by MINID."""
        return enc_text(f"{self.prefix}urlindex")

    def events(self, key: str) -> bytes:
        """Hash: event id -> click/open JSON, for one message."""
        return enc_text(f"{self.prefix}events:{key}")

    def rule_stats(self, rule: str) -> bytes:
        """Hash: counter name -> value, plus last_hit."""
        return enc_text(f"{self.prefix}rulestats:{rule}")

    @property
    def rule_stats_names(self) -> bytes:
        """Set: every rule with statistics."""
        return enc_text(f"{self.prefix}rulestats")


# Stream entry fields of the URL index.
F_TOKEN = b"t"
F_KEY = b"k"
F_EXPIRES = b"e"
