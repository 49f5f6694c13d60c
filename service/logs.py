"""Structured logs: one JSON object per line on stderr, with secrets masked on the way out.

Context travels through `extra=` (alert_id, message_id, collector, recipient, ...), so a
log pipeline can index on it instead of parsing prose. Masking is a second line of
defence: code must not log secrets, but if an exception text or a URL ever carries one,
the value read from the environment is replaced before the line is written.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any, TextIO
from urllib.parse import urlsplit

MASK = "[redacted]"
# Environment variables whose values are credentials (TRAWLER_API_TOKEN,
# TRAWLER_JOURNAL_PASSWORD, ...): matched by name, since the names are configurable.
_SECRET_NAME = re.compile(r"TOKEN|PASSWORD|PASSWD|SECRET|CREDENTIAL|API_KEY|PRIVATE_KEY", re.I)
_MIN_SECRET_LEN = 4  # shorter values would mask ordinary words
# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def secrets_from_env(environ: Mapping[str, str] | None = None) -> set[str]:
    """Values of credential-named variables, and passwords inside URL-valued ones."""
    environ = os.environ if environ is None else environ
    found: set[str] = set()
    for name, value in environ.items():
        if not value:
            continue
        if _SECRET_NAME.search(name):
            found.add(value.strip())
        elif "://" in value:
            try:
                password = urlsplit(value).password
            except ValueError:
                password = None
            if password:
                found.add(password)
    return {s for s in found if len(s) >= _MIN_SECRET_LEN}


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "msg", ...extra, "exc"}` on one line."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted(set(secrets), key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value if isinstance(value, str | int | float | bool | None) \
                    else str(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        return self.mask(json.dumps(out, ensure_ascii=False, default=str))


def configure(level: str = "INFO", stream: TextIO | None = None,
              environ: Mapping[str, str] | None = None) -> None:
    """Replace the root handlers with one JSON-lines handler (safe to call twice)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(secrets_from_env(environ)))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    try:
        root.setLevel(level.upper())
    except ValueError:
        root.setLevel(logging.INFO)
        root.warning("unknown log level %r; using INFO", level)
    # aiohttp's access log would put every scrape on its own line; errors still show.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
