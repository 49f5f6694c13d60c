"""Indicators of compromise: their types, spelling, sources, and how a message matches them.

An indicator is a (type, value) with its source, reason, severity and expiry. They
come from a reviewed file in git (YAML or CSV, `indicators_file` in config) and from
the store (`trawler intel add`, the response loop). Matching happens against in-memory
sets that `IndicatorIndex` refreshes from the store every few seconds, so a message
costs set lookups, never a store round trip per URL.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import enum
import hashlib
import io
import logging
import os
import re
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from service.lookalike import skeleton
from service.model import Action, Severity
from service.state.base import JSON, StoreUnavailable

log = logging.getLogger(__name__)

REFRESH_S = 5.0
MAX_VALUE_CHARS = 2048
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Reply/forward prefixes in several languages; \uff1a is the full-width colon.
_REPLY_PREFIX = re.compile(
    r"^\s*((re|fw|fwd|aw|wg|sv|tr|rv|vs|antw|r)\s*(\[\d+\])?\s*[:\uff1a]\s*)+", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_WORDS = re.compile(r"[^\W_]+")
_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}


class IndicatorError(ValueError):
    """An indicator or indicator file is malformed; the message says which and why."""


class IndicatorType(enum.StrEnum):
    EMAIL = "email"
    DOMAIN = "domain"  # matches the domain and every subdomain
    URL = "url"
    URL_PATH = "url_path"  # host + path, any scheme, any query
    SHA256 = "sha256"
    SUBJECT = "subject"  # the fingerprint of a normalised subject


def _host(host: str) -> str:
    host = host.strip().strip(".").lower()
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def canonical_url(url: str) -> str | None:
    """Scheme, host (IDNA) and default port normalised, fragment dropped; None if not a URL."""
    try:
        parts = urlsplit(url.strip()[:MAX_VALUE_CHARS])
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if not scheme or not parts.hostname:
        return None
    netloc = _host(parts.hostname)
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{netloc}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def url_host_path(url: str) -> str | None:
    """`host/path` without scheme, port, query or trailing slash; accepts `host/path` too."""
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    canon = canonical_url(text)
    if canon is None:
        return None
    parts = urlsplit(canon)
    return f"{parts.hostname}{parts.path.rstrip('/')}"


def subject_fingerprint(subject: str) -> str | None:
    """Same fingerprint for "RE: Invoice 4711 ready" and "Invoice 99 ready!"; None if empty.

    Reply prefixes, digits, punctuation, case and homoglyphs do not count: phish campaigns
    vary exactly those per message.
    """
    text = _REPLY_PREFIX.sub("", unicodedata.normalize("NFKC", subject or ""))
    # Words first, then skeletons: the skeleton reads "!" as "i", which punctuation is not.
    tokens = [skeleton(_DIGITS.sub("0", w)) for w in _WORDS.findall(text) if not w.isdigit()]
    if not tokens:
        return None
    return hashlib.sha256(" ".join(tokens).encode("utf-8")).hexdigest()[:32]


def normalise(kind: IndicatorType, value: str) -> str:
    value = str(value).strip()
    if not value or len(value) > MAX_VALUE_CHARS:
        raise IndicatorError(f"{kind.value} indicator: value is empty or too long")
    out: str | None
    if kind is IndicatorType.EMAIL:
        value = value.lower().removeprefix("mailto:").strip("<>")
        local, at, domain = value.rpartition("@")
        out = f"{local}@{_host(domain)}" if at and local and domain else None
    elif kind is IndicatorType.DOMAIN:
        out = _host(value.removeprefix("*."))
        out = out if "." in out and "/" not in out and "@" not in out else None
    elif kind is IndicatorType.URL:
        out = canonical_url(value)
    elif kind is IndicatorType.URL_PATH:
        out = url_host_path(value)
    elif kind is IndicatorType.SHA256:
        out = value.lower() if _SHA256.match(value.lower()) else None
    else:
        # A 32-hex value is taken as a fingerprint already; anything else is a subject line.
        out = value.lower() if re.fullmatch(r"[0-9a-f]{32}", value) else \
            subject_fingerprint(value)
    if out is None:
        raise IndicatorError(f"{kind.value} indicator: {value[:80]!r} is not a valid {kind.value}")
    return out


def parse_expiry(value: object, now: float | None = None) -> float | None:
    """None/"never" -> never; "30d", "12h" -> from now; ISO date or datetime (UTC if naive)."""
    now = time.time() if now is None else now
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "never")):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, dt.date):
        when = dt.datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip().lower()
        m = _RELATIVE.match(text)
        if m:
            return now + int(m.group(1)) * _UNITS[m.group(2)]
        try:
            when = dt.datetime.fromisoformat(text.upper() if "t" in text else text)
        except ValueError:
            raise IndicatorError(f"expiry {str(value)[:40]!r}: use never, 30d, 12h, "
                                 "2025-12-31 or an ISO datetime") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


@dataclass(frozen=True, slots=True)
class Indicator:
    type: IndicatorType
    value: str  # normalised
    source: str
    reason: str
    expires_at: float | None = None
    severity: Severity = Severity.HIGH
    action: Action | None = None  # remediate: a match pulls the message, like a rule can
    added_at: float = 0.0
    origin: str = "store"  # store | file

    @property
    def key(self) -> str:
        return f"{self.type.value}:{self.value}"

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def to_json(self) -> JSON:
        return {"type": self.type.value, "value": self.value, "source": self.source,
                "reason": self.reason, "expires_at": self.expires_at,
                "severity": self.severity.value,
                "action": self.action.value if self.action else None,
                "added_at": self.added_at}

    @classmethod
    def create(cls, kind: str, value: str, *, source: str, reason: str,
               expires: object = None, severity: str | None = None,
               action: str | None = None, added_at: float | None = None,
               origin: str = "store") -> Indicator:
        try:
            itype = IndicatorType(str(kind).strip().lower())
        except ValueError:
            known = ", ".join(t.value for t in IndicatorType)
            raise IndicatorError(f"unknown indicator type {str(kind)[:40]!r}; known: {known}") \
                from None
        try:
            sev = Severity.parse(severity) if severity else Severity.HIGH
        except ValueError:
            raise IndicatorError(f"unknown severity {severity!r}") from None
        if action not in (None, "", "alert", "remediate"):
            raise IndicatorError(f"action must be alert or remediate, not {action!r}")
        return cls(type=itype, value=normalise(itype, value), source=str(source)[:200],
                   reason=str(reason)[:500], expires_at=parse_expiry(expires), severity=sev,
                   action=Action(action) if action else None,
                   added_at=time.time() if added_at is None else float(added_at),
                   origin=origin)

    @classmethod
    def from_json(cls, data: JSON, origin: str = "store") -> Indicator:
        return cls.create(str(data.get("type")), str(data.get("value", "")),
                          source=str(data.get("source", "")), reason=str(data.get("reason", "")),
                          expires=data.get("expires_at"), severity=data.get("severity"),
                          action=data.get("action"), added_at=data.get("added_at") or 0.0,
                          origin=origin)


def _rows_from_file(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        return [dict(r) for r in csv.DictReader(io.StringIO(text))]
    data = yaml.safe_load(text)
    if isinstance(data, dict):
        data = data.get("indicators")
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise IndicatorError(f"indicator file {path}: expected a list of mappings "
                             "(or `indicators:` holding one)")
    return data


def load_file(path: str | os.PathLike[str]) -> list[Indicator]:
    """Every indicator in a YAML or CSV file; the first bad entry stops with its number."""
    where = Path(path)
    try:
        rows = _rows_from_file(where)
    except OSError as exc:
        raise IndicatorError(f"indicator file {where}: {exc.strerror}") from None
    except (yaml.YAMLError, csv.Error, UnicodeDecodeError) as exc:
        raise IndicatorError(f"indicator file {where}: not valid YAML/CSV: {exc}") from None
    out = []
    for n, row in enumerate(rows, 1):
        try:
            out.append(Indicator.create(
                str(row.get("type", "")), str(row.get("value", "")),
                source=str(row.get("source") or f"file:{where.name}"),
                reason=str(row.get("reason") or ""), expires=row.get("expires"),
                severity=row.get("severity") or None, action=row.get("action") or None,
                added_at=0.0, origin="file"))
        except IndicatorError as exc:
            raise IndicatorError(f"indicator file {where}, entry {n}: {exc}") from None
    return out


@dataclass(frozen=True, slots=True)
class IndicatorSet:
    """Indicators by type and value: what a scan looks things up in."""

    by_type: dict[IndicatorType, dict[str, Indicator]] = field(default_factory=dict)

    @classmethod
    def build(cls, indicators: Iterable[Indicator], now: float | None = None) -> IndicatorSet:
        now = time.time() if now is None else now
        by_type: dict[IndicatorType, dict[str, Indicator]] = {t: {} for t in IndicatorType}
        for ind in indicators:
            if not ind.expired(now):
                # The store wins over the file: it is the newer word on the same value.
                current = by_type[ind.type].get(ind.value)
                if current is None or current.origin == "file":
                    by_type[ind.type][ind.value] = ind
        return cls(by_type)

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_type.values())

    def get(self, kind: IndicatorType, value: str, now: float) -> Indicator | None:
        ind = self.by_type.get(kind, {}).get(value)
        return None if ind is None or ind.expired(now) else ind

    def domain(self, domain: str, now: float) -> Indicator | None:
        """The indicator for this domain or any parent domain."""
        labels = domain.lower().strip(".").split(".")
        for i in range(len(labels) - 1):
            hit = self.get(IndicatorType.DOMAIN, ".".join(labels[i:]), now)
            if hit is not None:
                return hit
        return None


class IndicatorIndex:
    """File + store indicators, refreshed at most every `refresh_s`; shared by all scans.

    A failed refresh keeps the last good set (and logs): a Redis blip must not turn
    indicator matching off. A broken file at the first load is an error.
    """

    def __init__(self, file: str | None, store: Any, refresh_s: float = REFRESH_S) -> None:
        self.file = file
        self.store = store
        self.refresh_s = refresh_s
        self._set: IndicatorSet | None = None
        self._loaded_at = 0.0
        self._file_mtime: float | None = None
        self._file_items: list[Indicator] = []
        self._lock: asyncio.Lock | None = None

    def invalidate(self) -> None:
        """Reload at the next `current()`: a retro-hunt must see indicators added just now."""
        self._loaded_at = float("-inf")

    async def current(self) -> IndicatorSet:
        if self._set is not None and time.monotonic() - self._loaded_at < self.refresh_s:
            return self._set
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._set is None or time.monotonic() - self._loaded_at >= self.refresh_s:
                await self._refresh()
        assert self._set is not None
        return self._set

    def _load_file(self) -> list[Indicator]:
        if not self.file:
            return []
        try:
            mtime = os.stat(self.file).st_mtime
        except OSError as exc:
            raise IndicatorError(f"indicator file {self.file}: {exc.strerror}") from None
        if mtime != self._file_mtime:
            self._file_items = load_file(self.file)
            self._file_mtime = mtime
        return self._file_items

    async def _refresh(self) -> None:
        first = self._set is None
        try:
            items = list(self._load_file())
        except IndicatorError:
            if first:
                raise
            log.warning("indicator file reload failed; keeping the last good set",
                        exc_info=True)
            items = list(self._file_items)
        if self.store is not None:
            try:
                items += await load_store(self.store)
            except (StoreUnavailable, OSError) as exc:
                if self._set is not None:
                    log.warning("indicator refresh from the store failed: %s", exc)
                    self._loaded_at = time.monotonic()
                    return
                log.warning("indicators from the store unavailable at first load: %s", exc)
        self._set = IndicatorSet.build(items)
        self._loaded_at = time.monotonic()


async def load_store(store: Any) -> list[Indicator]:
    """Store indicators; a malformed record is logged and skipped, not fatal."""
    out = []
    for record in await store.list_indicators():
        try:
            out.append(Indicator.from_json(record))
        except (IndicatorError, TypeError, ValueError) as exc:
            log.warning("skipping malformed stored indicator: %s", exc)
    return out
