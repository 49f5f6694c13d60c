"""Turn raw URL candidates into the message's `Url` list: normalized, unwrapped, unique.

The one place where extraction, normalization and unwrapping meet; the MIME parser and
the URL scanner both go through `UrlCollector`, so `trawler scan` output and scanner
findings agree on what a message links to.
"""

from __future__ import annotations

from collections.abc import Iterable

from service.model import Url
from service.urls.extract import ics_urls, markup_urls, text_urls
from service.urls.normalize import canonical_host, normalize
from service.urls.unwrap import Unwrapped, could_wrap, unwrap

MAX_URLS = 500


def known_urls(urls: Iterable[Url]) -> dict[str, Unwrapped]:
    """What each parsed URL as written resolved to, for `UrlCollector(known=...)`."""
    return {u.original: Unwrapped(u.url, opaque=u.wrapped_by) for u in urls}


def resolve(raw: str) -> Unwrapped | None:
    """Normalize then unwrap one URL as written; None when it is not a web URL."""
    host = canonical_host(raw)
    if host is not None and not could_wrap(host, raw):
        return Unwrapped(raw if "/" in raw[8:] else raw + "/")  # the parser's hot path
    normalized = normalize(raw)
    if normalized is None:
        return None
    return unwrap(normalized)


class UrlCollector:
    """Accumulates unique URLs across the parts of one message, up to `limit`.

    `known` maps URLs as written to what they resolve to, when another pass over the
    same message already did that work (the URL scanner passes the parser's
    `ParsedMessage.urls`): resolving is most of the cost of adding a URL.
    """

    def __init__(self, limit: int = MAX_URLS, known: dict[str, Unwrapped] | None = None) -> None:
        self._limit = limit
        self._seen: dict[str, Url] = {}
        self._raw: set[str] = set()
        self._resolved: dict[str, Unwrapped | None] = dict(known or {})

    def resolve(self, raw: str) -> Unwrapped | None:
        """`resolve(raw)`, done once per message for each URL as written."""
        try:
            return self._resolved[raw]
        except KeyError:
            found = self._resolved[raw] = resolve(raw)
            return found

    @property
    def full(self) -> bool:
        return len(self._seen) >= self._limit

    def add(self, raw: str, source: str) -> Url | None:
        if self.full or raw in self._raw:
            return None
        self._raw.add(raw)
        resolved = self.resolve(raw)
        if resolved is None:
            return None
        url = self._seen.get(resolved.url)
        if url is None:
            url = Url(url=resolved.url, original=raw, source=source, wrapped_by=resolved.opaque)
            self._seen[resolved.url] = url
        return url

    def add_all(self, raws: Iterable[str], source: str) -> None:
        for raw in raws:
            if self.full:
                return
            self.add(raw, source)

    def add_text(self, text: str, source: str) -> None:
        self.add_all(text_urls(text), source)

    def add_html(self, markup: str, source: str) -> None:
        self.add_all(markup_urls(markup), source)

    def add_ics(self, text: str, source: str) -> None:
        self.add_all(ics_urls(text), source)

    def urls(self) -> tuple[Url, ...]:
        return tuple(self._seen.values())
