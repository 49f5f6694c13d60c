"""State: the Store protocol, its two backends, and open_store() to pick one from a URL."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from service.state.base import (
    JSON,
    MergeResult,
    QueueEntry,
    QueueItem,
    Store,
    StoreUnavailable,
)
from service.state.keys import DEFAULT_PREFIX
from service.state.redis import RedisStore
from service.state.sqlite import SqliteStore

__all__ = [
    "JSON",
    "MergeResult",
    "QueueEntry",
    "QueueItem",
    "RedisStore",
    "SqliteStore",
    "Store",
    "StoreUnavailable",
    "open_store",
]

_URL_HELP = "use sqlite:///absolute/path.db or redis://host:port/db[?prefix=name:]"


def open_store(url: str) -> Store:
    """A Store for `url`, not yet opened (await store.open()).

    sqlite:///var/lib/trawler/state.db is the absolute path /var/lib/trawler/state.db
    (URL syntax: the path follows the empty host); sqlite:relative/state.db is relative
    to the working directory. redis://, rediss:// and unix:// take redis-py's URL
    options plus `prefix` for the key prefix. Errors never repeat the URL: it may hold
    a password.
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        raise ValueError(f"state URL is malformed: {_URL_HELP}") from None
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        if parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"sqlite state URL takes only a path: {_URL_HELP}")
        path = parts.path
        if path.startswith("//"):  # sqlite:////abs/path, as SQLAlchemy spells it
            path = "/" + path.lstrip("/")
        if not path:
            raise ValueError(f"sqlite state URL has no path: {_URL_HELP}")
        return SqliteStore(path)
    if scheme in ("redis", "rediss", "unix"):
        query = parse_qsl(parts.query, keep_blank_values=True)
        prefix = DEFAULT_PREFIX
        rest: list[tuple[str, str]] = []
        for name, value in query:
            if name == "prefix":
                if not value:
                    raise ValueError("redis state URL: prefix must not be empty")
                prefix = value
            else:
                rest.append((name, value))
        clean = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(rest), ""))
        return RedisStore(clean, prefix=prefix)
    shown = f"{scheme!r}" if scheme else "no scheme"
    raise ValueError(f"unsupported state URL ({shown}): {_URL_HELP}")
