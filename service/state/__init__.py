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

_URL_HELP = "use sqlite:///relative.db, sqlite:////absolute.db or redis://host:port/db"


def open_store(url: str) -> Store:
    """A Store for `url`, not yet opened (await store.open()).

    SQLite follows SQLAlchemy: everything after "sqlite:///" is the path as written,
    so sqlite:///trawler-data/state.db is relative to the working directory and
    sqlite:////var/lib/trawler/state.db (four slashes) is absolute. redis://, rediss://
    and unix:// take redis-py's URL options plus `prefix` for the key prefix. Errors
    never repeat the URL: it may hold a password.
    """
    url = url.strip()
    if url[:7].lower() == "sqlite:":
        if url[7:10] != "///" or not url[10:]:
            raise ValueError(f"sqlite state URL must be sqlite:///<path>: {_URL_HELP}")
        return SqliteStore(url[10:])
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ValueError(f"state URL is malformed: {_URL_HELP}") from None
    scheme = parts.scheme.lower()
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
