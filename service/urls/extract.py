"""Find URL candidates in text, HTML, SVG, CSS and calendar data; raw strings, not yet normalized.

Two speeds. `text_urls`/`markup_urls` are regular expressions over (entity-decoded)
text, cheap enough for the parser to run on every body. `html_links` runs the stdlib
HTML tokenizer and also returns what a reader sees next to each link (anchor text) and
where the URL sat (`href`, form `action`, `src`, meta refresh, CSS `url()`), which the
URL scanner needs for link-text and `data:` checks. Why the stdlib tokenizer: on the
phish corpus it is fast enough for scanner time, it tolerates any broken markup without
raising, and it adds no compiled dependency (selectolax would be faster, urlfinderlib
was slower still and guesses at bare domains; see the URL scanner's docstring).
Everything is bounded: input characters, candidates, URL length.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser

MAX_SCAN_CHARS = 4 * 1024 * 1024
MAX_LINKS = 1000
MAX_URL_CHARS = 2048
MAX_ANCHOR_CHARS = 200

# Matched against a lowercased copy: a case-sensitive literal prefix is much faster.
# Browsers read a backslash in the authority as a slash, and phish uses that.
_TEXT_URL = re.compile(r"""https?:[/\\]{2}[^\s<>"'`^{}|\x00-\x1f\x7f]+""")
_TRAILING = ".,;:!?)]}'\"*>\\"
# A protocol-relative or scheme-less value in an attribute that loads or navigates.
_REL_ATTR = re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*(//[^\s"'<>]+)""")
_CSS_URL = re.compile(r"""url\(\s*["']?\s*([^"')\s]+)""", re.IGNORECASE)
_META_REFRESH_URL = re.compile(r"""url\s*=\s*["']?\s*([^"'\s>]+)""", re.IGNORECASE)


def clean(candidate: str) -> str | None:
    """Trim punctuation a sentence wraps around a link; None if nothing URL-like is left."""
    candidate = candidate.strip().rstrip(_TRAILING)[:MAX_URL_CHARS]
    if candidate.startswith("//") or candidate[:5].lower() == "data:":
        return candidate
    head = candidate[:8].lower()
    if not head.startswith(("http:", "https:")):
        return None
    candidate = candidate.replace("\\", "/")
    return candidate if len(candidate) > len("https://") else None


def text_urls(text: str) -> Iterator[str]:
    """http(s) URLs in plain text, as written."""
    text = text[:MAX_SCAN_CHARS]
    lowered = text.lower()
    if len(lowered) != len(text):  # a few characters change length when lowered
        lowered = text
    count = 0
    for m in _TEXT_URL.finditer(lowered):
        found = clean(text[m.start():m.end()])
        if found is not None:
            yield found
            count += 1
            if count >= MAX_LINKS:
                return


def markup_urls(markup: str) -> Iterator[str]:
    """URLs in HTML/SVG/XML by regex, entities decoded: the parser's fast path."""
    markup = markup[:MAX_SCAN_CHARS]
    if "&" in markup:
        markup = html.unescape(markup)
    yield from text_urls(markup)
    if "//" in markup:
        for m in _REL_ATTR.finditer(markup):
            found = clean(m.group(1))
            if found is not None:
                yield found


def ics_urls(text: str) -> Iterator[str]:
    """URLs in an iCalendar file: unfold continuation lines first (RFC 5545 3.1)."""
    unfolded = re.sub(r"\r?\n[ \t]", "", text[:MAX_SCAN_CHARS])
    yield from text_urls(unfolded.replace("\\n", "\n").replace("\\,", ","))


def css_urls(css: str) -> Iterator[str]:
    for m in _CSS_URL.finditer(css[:MAX_SCAN_CHARS]):
        found = clean(html.unescape(m.group(1)))
        if found is not None:
            yield found


@dataclass(frozen=True, slots=True)
class Link:
    url: str  # as written (entities decoded), not normalized
    where: str  # href | action | src | refresh | css | text
    text: str = ""  # anchor text a reader sees, for <a>/<area>


_NAV_TAGS = {"a": "href", "area": "href"}
_LOAD_ATTRS = {"src", "background", "poster", "data", "xlink:href", "formaction", "lowsrc",
               "dynsrc"}


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[Link] = []
        self._anchor: str | None = None
        self._anchor_text: list[str] = []
        self._in_style = False

    def _add(self, url: str | None, where: str, text: str = "") -> None:
        if url is None or len(self.links) >= MAX_LINKS:
            return
        found = clean(url)
        if found is not None:
            self.links.append(Link(found, where, text[:MAX_ANCHOR_CHARS]))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs)
        if tag in _NAV_TAGS:
            self._close_anchor()

    def _start(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v for k, v in attrs if v is not None}
        if tag in _NAV_TAGS:
            self._close_anchor()
            self._anchor = values.get("href") or values.get("xlink:href")
            self._anchor_text = []
        elif tag == "form":
            self._add(values.get("action"), "action")
        elif tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            m = _META_REFRESH_URL.search(values.get("content", ""))
            self._add(m.group(1) if m else None, "refresh")
        elif tag == "style":
            self._in_style = True
        for key, value in values.items():
            if key in _LOAD_ATTRS:
                self._add(value, "src")
            elif key == "style" and "url(" in value.lower():
                for url in css_urls(value):
                    self._add(url, "css")

    def handle_endtag(self, tag: str) -> None:
        if tag in _NAV_TAGS:
            self._close_anchor()
        elif tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            for url in css_urls(data):
                self._add(url, "css")
        elif self._anchor is not None and sum(map(len, self._anchor_text)) < MAX_ANCHOR_CHARS:
            self._anchor_text.append(data)

    def _close_anchor(self) -> None:
        if self._anchor is not None:
            text = " ".join("".join(self._anchor_text).split())
            self._add(self._anchor, "href", text)
        self._anchor = None
        self._anchor_text = []

    def close(self) -> None:
        super().close()
        self._close_anchor()


def html_links(markup: str) -> list[Link]:
    """Every link in HTML or SVG with where it sat and its anchor text; never raises."""
    parser = _LinkParser()
    try:
        parser.feed(markup[:MAX_SCAN_CHARS])
        parser.close()
    except (AssertionError, ValueError, IndexError):  # html.parser on pathological input
        pass
    links = parser.links
    seen = {link.url for link in links}
    # Bare URLs in visible text and in attributes the tokenizer did not look at.
    for url in markup_urls(markup):
        if url not in seen and len(links) < MAX_LINKS:
            seen.add(url)
            links.append(Link(url, "text"))
    return links
