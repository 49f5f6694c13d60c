"""Proxy and endpoint events in: JSON lines, Squid access.log, W3C extended / ELFF; users; `tail`.

Every parser is total: a line it cannot read is counted as invalid and skipped, never
raised, because a log shipper replays whatever it was given. User names arrive as
`DOMAIN\\user`, `user@domain` or bare `user`; `Users` turns them into one spelling
(a mailbox address when it can) so a click lines up with a recipient.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import io
import json
import logging
import os
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

log = logging.getLogger(__name__)

MAX_LINE = 16 * 1024
MAX_FIELD = 2048
# Blue Coat ProxySG's default ELFF field list, for bodies without a #Fields: line.
_BLUECOAT = ("date time time-taken c-ip cs-username cs-auth-group x-exception-id "
             "sc-filter-result cs-categories cs(Referer) sc-status s-action cs-method "
             "rs(Content-Type) cs-uri-scheme cs-host cs-uri-port cs-uri-path cs-uri-query "
             "cs-uri-extension cs(User-Agent) s-ip sc-bytes cs-bytes x-virus-id")
BLUECOAT_FIELDS = tuple(_BLUECOAT.split(" "))


@dataclass(frozen=True, slots=True)
class WebEvent:
    ts: float
    user: str
    url: str
    method: str = "GET"
    status: int | None = None
    client_ip: str | None = None


@dataclass(frozen=True, slots=True)
class FileEvent:
    ts: float
    user: str
    sha256: str
    host: str | None = None
    path: str | None = None


def parse_ts(value: Any) -> float | None:
    """Unix seconds (number or digits) or an ISO 8601 time (UTC when naive)."""
    if type(value) is float or type(value) is int:  # the common case, first and cheap
        return float(value) if 0 <= value < 1e11 else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if 0 <= value < 1e11 else None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        return parse_ts(float(text))
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def _text(value: Any, limit: int = MAX_FIELD) -> str | None:
    if type(value) is str:
        text = value.strip()
    elif value is None or isinstance(value, bool | dict | list):
        return None
    else:
        text = str(value).strip()
    return text[:limit] if text and text != "-" else None


def _status(value: Any) -> int | None:
    try:
        status = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return status if 0 <= status < 1000 else None


def _lines(body: bytes) -> list[str]:
    return [line for line in body.decode("utf-8", "replace").splitlines()
            if line.strip() and len(line) <= MAX_LINE]


def json_objects(body: bytes) -> tuple[list[dict[str, Any]], int]:
    """Each non-empty line a JSON object; (objects, invalid lines)."""
    out: list[dict[str, Any]] = []
    invalid = 0
    for line in body.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line) if len(line) <= MAX_LINE else None
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            out.append(obj)
        else:
            invalid += 1
    return out, invalid


def web_from_json(obj: dict[str, Any]) -> WebEvent | None:
    ts, url, user = parse_ts(obj.get("ts")), _text(obj.get("url")), _text(obj.get("user"), 256)
    if ts is None or url is None or user is None:
        return None
    method = (_text(obj.get("method"), 16) or "GET").upper()
    return WebEvent(ts, user, url, method, _status(obj.get("status")),
                    _text(obj.get("client_ip") or obj.get("ip"), 64))


def file_from_json(obj: dict[str, Any]) -> FileEvent | None:
    ts, user = parse_ts(obj.get("ts")), _text(obj.get("user"), 256)
    sha = (_text(obj.get("sha256"), 64) or "").lower()
    if ts is None or user is None or len(sha) != 64 or any(c not in "0123456789abcdef"
                                                           for c in sha):
        return None
    return FileEvent(ts, user, sha, _text(obj.get("host"), 256), _text(obj.get("path")))


def squid_line(line: str) -> WebEvent | None:
    """Squid native: time elapsed client code/status bytes method URL user hierarchy type."""
    parts = line.split()
    if len(parts) < 8:
        return None
    ts, user = parse_ts(parts[0]), _text(parts[7], 256)
    method, url = parts[5].upper()[:16], parts[6][:MAX_FIELD]
    # CONNECT carries host:port only: no path to match a message's link against.
    if ts is None or user is None or method == "CONNECT" or "://" not in url:
        return None
    return WebEvent(ts, user, url, method, _status(parts[3].rpartition("/")[2]),
                    _text(parts[2], 64))


class W3cParser:
    """W3C extended / ELFF: `#Fields:` names the columns of the lines after it."""

    def __init__(self, fields: list[str] | None = None) -> None:
        self.fields = list(fields or BLUECOAT_FIELDS)

    def line(self, line: str) -> WebEvent | None:
        if line.startswith("#"):
            if line.lower().startswith("#fields:"):
                self.fields = line.split(":", 1)[1].split()
            return None
        try:
            values = shlex.split(line, posix=True)
        except ValueError:
            return None
        if len(values) != len(self.fields):
            return None
        row = {k.lower(): v for k, v in zip(self.fields, values, strict=True)}
        when = parse_ts(f"{row.get('date', '')}T{row.get('time', '')}")
        user = _text(row.get("cs-username"), 256)
        url = _text(row.get("cs-uri"))
        if url is None:
            host = _text(row.get("cs-host"))
            scheme = _text(row.get("cs-uri-scheme")) or "http"
            if host is None:
                return None
            port = _text(row.get("cs-uri-port"))
            default = {"http": "80", "https": "443"}.get(scheme)
            netloc = host if port in (None, default) or ":" in host else f"{host}:{port}"
            path = _text(row.get("cs-uri-path")) or "/"
            query = _text(row.get("cs-uri-query"))
            url = f"{scheme}://{netloc}{path}" + ("" if not query else
                                                  query if query.startswith("?") else "?" + query)
        method = (_text(row.get("cs-method"), 16) or "GET").upper()
        if when is None or user is None or method == "CONNECT":
            return None
        return WebEvent(when, user, url, method, _status(row.get("sc-status")),
                        _text(row.get("c-ip"), 64))


E = TypeVar("E")
FORMATS = ("json", "squid", "w3c")


def parse_web(body: bytes, fmt: str = "json") -> tuple[list[WebEvent], int]:
    """(events, invalid lines) from a request body in one of FORMATS."""
    if fmt == "json":
        return _from_json_lines(body, web_from_json)
    events: list[WebEvent] = []
    invalid = 0
    w3c = W3cParser()
    for line in _lines(body):
        ev = squid_line(line) if fmt == "squid" else w3c.line(line)
        if ev is not None:
            events.append(ev)
        elif not line.startswith("#"):
            invalid += 1
    return events, invalid


def parse_files(body: bytes) -> tuple[list[FileEvent], int]:
    return _from_json_lines(body, file_from_json)


def _from_json_lines(body: bytes, convert: Callable[[dict[str, Any]], E | None]
                     ) -> tuple[list[E], int]:
    """(events, invalid lines): a line that is not JSON or not an event counts as invalid."""
    objs, invalid = json_objects(body)
    events: list[E] = []
    for obj in objs:
        ev = convert(obj)
        if ev is None:
            invalid += 1
        else:
            events.append(ev)
    return events, invalid


class Users:
    """`CORP\\Bob`, `bob@corp.example` and aliases become one lower-case name."""

    def __init__(self, default_domain: str | None = None,
                 aliases: dict[str, str] | None = None) -> None:
        self.domain = (default_domain or "").lower().lstrip("@") or None
        self.aliases = {k.strip().lower(): v.strip().lower() for k, v in (aliases or {}).items()}

    @classmethod
    def from_file(cls, path: str | None, default_domain: str | None) -> Users:
        aliases: dict[str, str] = {}
        if path:
            text = Path(path).read_text(encoding="utf-8")
            if path.lower().endswith(".csv"):
                aliases = {r[0]: r[1] for r in csv.reader(io.StringIO(text)) if len(r) >= 2}
            else:
                data = yaml.safe_load(text) or {}
                if not isinstance(data, dict):
                    raise ValueError(f"alias file {path}: expected a mapping alias -> address")
                aliases = {str(k): str(v) for k, v in data.items()}
        return cls(default_domain, aliases)

    def normalize(self, raw: str) -> str:
        name = raw.strip().strip('"').lower()
        if name in self.aliases:
            return self.aliases[name]
        if "\\" in name:
            name = name.rpartition("\\")[2]
            if self.domain and name:
                name = f"{name}@{self.domain}"
        elif "@" not in name and self.domain and name:
            name = f"{name}@{self.domain}"
        return self.aliases.get(name, name)


Ingest = Callable[[bytes, str], Awaitable[object]]


class LogTail:
    """Follow a proxy log like `tail -F`: new lines are handed over in batches; a rotated
    or truncated file is reopened from the start. Starts at the end of an existing file."""

    def __init__(self, path: str, fmt: str, ingest: Ingest, interval_s: float = 0.5,
                 from_start: bool = False) -> None:
        self.path = Path(path)
        self.fmt = fmt
        self.ingest = ingest
        self.interval_s = interval_s
        self.from_start = from_start
        self._inode: int | None = None
        self._offset = 0
        self._partial = b""
        self._header = b""  # the last #Fields: line, re-sent with each W3C batch

    def _read(self) -> bytes:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return b""
        if self._inode is None:
            self._offset = 0 if self.from_start else st.st_size
        elif st.st_ino != self._inode or st.st_size < self._offset:
            self._offset, self._partial = 0, b""
        self._inode = st.st_ino
        if st.st_size <= self._offset:
            return b""
        with open(self.path, "rb") as fh:
            fh.seek(self._offset)
            data = fh.read(min(st.st_size - self._offset, 8 * 1024 * 1024))
        self._offset += len(data)
        data = self._partial + data
        cut = data.rfind(b"\n") + 1
        self._partial = data[cut:][:MAX_LINE]
        return data[:cut]

    async def poll_once(self) -> int:
        data = await asyncio.to_thread(self._read)
        if not data:
            return 0
        if self.fmt == "w3c":
            for line in data.splitlines():
                if line.lower().startswith(b"#fields:"):
                    self._header = line + b"\n"
            if not data.lower().startswith(b"#fields:"):
                data = self._header + data
        await self.ingest(data, self.fmt)
        return data.count(b"\n")

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("tail %s: %s: %s", self.path, type(exc).__name__, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval_s)
