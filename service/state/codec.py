"""How both Store backends turn values into bytes and back, so they agree exactly.

JSON only (the input is hostile; nothing is pickled). Text that may carry lone
surrogates (file names read with surrogateescape) is encoded with surrogatepass so
it round-trips instead of raising.
"""

from __future__ import annotations

import json
import math
from typing import Any

from service.state.base import JSON

# Alert fields that name the message's dedup key, in order of preference.
ALERT_KEY_FIELDS = ("key", "dedup_key", "message_key")
# Alert fields that carry its creation time (unix seconds), in order of preference.
ALERT_TIME_FIELDS = ("created_at", "created", "time")


def dumps(value: JSON) -> str:
    if not isinstance(value, dict):
        raise TypeError(f"store values are JSON objects, not {type(value).__name__}")
    return json.dumps(value, separators=(",", ":"))


def loads(data: bytes | str) -> JSON:
    value: Any = json.loads(data)
    if not isinstance(value, dict):
        raise ValueError("stored value is not a JSON object")
    return value


def enc_text(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def dec_text(data: bytes) -> str:
    return data.decode("utf-8", "surrogatepass")


def normalize_addresses(addresses: list[str]) -> list[str]:
    """Lower-case, strip, drop empties and duplicates, keep first-seen order."""
    seen: dict[str, None] = {}
    for addr in addresses:
        norm = addr.strip().lower()
        if norm:
            seen.setdefault(norm, None)
    return list(seen)


def alert_message_key(alert: JSON) -> str | None:
    for name in ALERT_KEY_FIELDS:
        value = alert.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def alert_time(alert: JSON) -> float | None:
    for name in ALERT_TIME_FIELDS:
        value = alert.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value):
            return float(value)
    return None
