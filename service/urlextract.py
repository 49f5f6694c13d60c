"""Fast, simple URL extraction from decoded text and HTML bodies.

Only real http/https URLs and href/src attribute values; a fuller URL scanner
(unwrapping, defanged forms) is built on top of this elsewhere. Bounded in count and
length because bodies are hostile.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit, urlunsplit

from service.model import Url

MAX_URLS = 500
MAX_URL_LENGTH = 2048
# Bodies past this are not scanned for URLs: a phish puts its link near the top.
MAX_SCAN_CHARS = 4 * 1024 * 1024

# Matched against a lowercased copy: a case-sensitive literal prefix is much faster.
_TEXT_URL = re.compile(r"""https?://[^\s<>"'`\\^{}|\x00-\x1f\x7f]+""")
_TRAILING = ".,;:!?)]}'\"*>"


def normalize(url: str) -> str:
    """Lowercase scheme and host; anything unparsable is returned as given."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        userinfo, at, hostport = netloc.rpartition("@")
        netloc = f"{userinfo}{at}{hostport.lower()}"
        return urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query,
                           parts.fragment))
    except ValueError:
        return url


def _clean(candidate: str) -> str | None:
    candidate = candidate.strip().strip(_TRAILING)
    if not candidate.lower().startswith(("http://", "https://")):
        return None
    if len(candidate) <= len("https://"):
        return None
    return candidate[:MAX_URL_LENGTH]


class UrlCollector:
    """Accumulates unique URLs across the bodies of one message, up to MAX_URLS."""

    def __init__(self, limit: int = MAX_URLS) -> None:
        self._limit = limit
        self._seen: dict[str, Url] = {}

    @property
    def full(self) -> bool:
        return len(self._seen) >= self._limit

    def _add(self, candidate: str, source: str) -> None:
        cleaned = _clean(candidate)
        if cleaned is None or self.full:
            return
        key = normalize(cleaned)
        if key not in self._seen:
            self._seen[key] = Url(url=key, original=cleaned, source=source)

    def add_text(self, text: str, source: str) -> None:
        text = text[:MAX_SCAN_CHARS]
        lowered = text.lower()
        if len(lowered) != len(text):  # a few characters change length when lowered
            lowered, text = text, text
        for m in _TEXT_URL.finditer(lowered):
            if self.full:
                return
            self._add(text[m.start():m.end()], source)

    def add_html(self, markup: str, source: str) -> None:
        """URLs in the markup once entities are decoded: href/src values included."""
        if "&" in markup:
            markup = html.unescape(markup[:MAX_SCAN_CHARS])
        self.add_text(markup, source)

    def urls(self) -> tuple[Url, ...]:
        return tuple(self._seen.values())
