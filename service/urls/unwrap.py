"""Recover the real destination from link protectors and redirectors: the table lives here.

Each `Wrapper` row says which hosts (and path) it applies to and how to get the wrapped
URL back. Unwrapping repeats, up to a depth limit, so a Safe Links URL around a
Proofpoint URL around the original comes out as the original. A protector that keeps
the destination on its own servers (Mimecast's `/s/` tokens, LinkedIn's `slink`) cannot
be unwrapped offline: it is reported as wrapped and the chain stops there. Never
fetches anything, never raises.
"""

from __future__ import annotations

import base64
import binascii
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from service.urls.normalize import normalize

MAX_DEPTH = 8
_MAX_QUERY = 8192


def _query(url: str, *names: str) -> str | None:
    """The first named query parameter that looks like a URL (case-insensitive names)."""
    try:
        query = urlsplit(url).query[:_MAX_QUERY]
        params = parse_qs(query, keep_blank_values=False, max_num_fields=200)
    except ValueError:
        return None
    lowered = {k.lower(): v for k, v in params.items()}
    for name in names:
        for value in lowered.get(name, ()):
            value = value.strip()
            if _looks_like_url(value):
                return value
    return None


def _looks_like_url(value: str) -> bool:
    low = value[:12].lower()
    return low.startswith(("http://", "https://", "http%3a", "https%3a", "//"))


def _decoded_url(value: str) -> str:
    # Some wrappers double-encode: decode until it reads as a URL, a bounded number of times.
    for _ in range(3):
        if value[:8].lower().startswith(("http://", "https://")):
            break
        value = unquote(value)
    return value


def _param(*names: str) -> Callable[[str], str | None]:
    def get(url: str) -> str | None:
        value = _query(url, *names)
        return _decoded_url(value) if value else None
    return get


def _proofpoint_v1(url: str) -> str | None:
    value = _query(url, "u")
    return unquote(value) if value else None


_V2_U = re.compile(r"[?&]u=([^&]+)")


def _proofpoint_v2(url: str) -> str | None:
    # v2 encodes the URL as: '%' -> '-', '/' -> '_', then percent-decoding.
    m = _V2_U.search(url)
    if m is None:
        return None
    value = m.group(1).replace("-", "%").replace("_", "/")
    return unquote(value)


_V3 = re.compile(r"/v3/__(?P<url>.+?)__;(?P<enc>[^!]*)!")
_V3_TOKEN = re.compile(r"\*(\*.)?")
_V3_RUNS = {c: i + 2 for i, c in
            enumerate(string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_")}


def _proofpoint_v3(url: str) -> str | None:
    # v3 keeps the URL readable but swaps some characters for '*'; the swapped characters
    # are base64url after '__;'. '**X' stands for a run whose length X encodes.
    m = _V3.search(url)
    if m is None:
        return None
    encoded = unquote(m.group("url"))
    try:
        replacements = base64.urlsafe_b64decode(m.group("enc") + "==").decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    out: list[str] = []
    pos = 0
    cursor = 0
    for token in _V3_TOKEN.finditer(encoded):
        out.append(encoded[pos:token.start()])
        size = 1 if token.group(1) is None else _V3_RUNS.get(token.group(1)[1], 0)
        if size == 0 or cursor + size > len(replacements):
            return None
        out.append(replacements[cursor:cursor + size])
        cursor += size
        pos = token.end()
    out.append(encoded[pos:])
    return "".join(out)


def _path_tail(url: str) -> str | None:
    # Cisco Secure Web: https://secure-web.cisco.com/<token>/<percent-encoded URL>
    try:
        path = urlsplit(url).path
    except ValueError:
        return None
    for segment in path.split("/")[2:3]:
        if _looks_like_url(segment):
            return _decoded_url(segment)
    tail = path.split("/", 2)[2:] if path.count("/") >= 2 else []
    for rest in tail:
        if _looks_like_url(rest):
            return _decoded_url(rest)
    return None


def _never(url: str) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class Wrapper:
    name: str
    hosts: tuple[str, ...]  # exact host, or ".suffix" for any subdomain
    path: str  # path prefix ('' for any)
    unwrap: Callable[[str], str | None]
    opaque: bool = False  # destination kept server-side: report as wrapped, stop


# The table. Order matters only where two rows share a host.
WRAPPERS: tuple[Wrapper, ...] = (
    Wrapper("safelinks", (".safelinks.protection.outlook.com",), "", _param("url")),
    Wrapper("safelinks", ("statics.teams.cdn.office.net",), "/evergreen-assets/safelinks/",
            _param("url")),
    Wrapper("proofpoint_v1", ("urldefense.proofpoint.com",), "/v1/", _proofpoint_v1),
    Wrapper("proofpoint_v2", ("urldefense.proofpoint.com", "urldefense.com"), "/v2/",
            _proofpoint_v2),
    Wrapper("proofpoint_v3", ("urldefense.com", "urldefense.proofpoint.com"), "/v3/",
            _proofpoint_v3),
    Wrapper("mimecast", (".mimecast.com", ".mimecastprotect.com"), "",
            _param("url", "u"), opaque=True),
    Wrapper("google", ("google.com", ".google.com", ".google.co.uk", ".google.de",
                       ".google.fr", ".google.ca", ".google.com.au"), "/url",
            _param("q", "url")),
    Wrapper("google_amp", ("google.com", ".google.com"), "/amp/", _never, opaque=True),
    Wrapper("facebook", ("l.facebook.com", "lm.facebook.com", "l.messenger.com",
                         "l.instagram.com"), "", _param("u")),
    Wrapper("linkedin", ("linkedin.com", ".linkedin.com"), "/redir/", _param("url")),
    Wrapper("linkedin", ("linkedin.com", ".linkedin.com"), "/slink", _never, opaque=True),
    Wrapper("barracuda", ("linkprotect.cudasvc.com",), "", _param("a", "url")),
    Wrapper("cisco", ("secure-web.cisco.com",), "", _path_tail, opaque=True),
    Wrapper("trendmicro", (".trendmicro.com",), "/wis/clicktime/", _param("url")),
    Wrapper("sophos", (".protection.sophos.com",), "", _param("u", "d")),
    Wrapper("youtube", ("youtube.com", ".youtube.com"), "/redirect", _param("q")),
    Wrapper("slack", ("slack-redir.net",), "/link", _param("url")),
)

# Open redirectors that are not in the table: a query parameter holding a whole URL.
GENERIC_PARAMS = ("url", "u", "redirect", "redirect_url", "redirecturl", "target", "dest",
                  "destination", "goto", "rurl", "link", "out")


def _index(table: tuple[Wrapper, ...]) -> dict[str, list[Wrapper]]:
    """Host (or '.suffix') -> rows, in table order: a lookup per parent domain, not a scan."""
    out: dict[str, list[Wrapper]] = {}
    for w in table:
        for h in w.hosts:
            out.setdefault(h, []).append(w)
    return out


_BY_HOST = _index(WRAPPERS)


def _parent_keys(host: str) -> list[str]:
    labels = host.split(".")
    return [host, *("." + ".".join(labels[i:]) for i in range(1, len(labels)))]


def could_wrap(host: str, url: str) -> bool:
    """Cheap test before `unwrap`: a wrapper host, or a query that could hold a URL."""
    return _may_hold_url(url) or any(k in _BY_HOST for k in _parent_keys(host))


def match(url: str) -> Wrapper | None:
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    if not host:
        return None
    path = parts.path
    for key in _parent_keys(host):
        for w in _BY_HOST.get(key, ()):
            if path.startswith(w.path):
                return w
    return None


def _may_hold_url(url: str) -> bool:
    """Cheap pre-check for the generic rule: a query that could hold a whole URL."""
    query = url.partition("?")[2]
    return "//" in query or "http" in query.lower()


@dataclass(frozen=True, slots=True)
class Unwrapped:
    url: str  # normalized final destination
    chain: tuple[str, ...] = ()  # wrapper names peeled off, outermost first
    opaque: str | None = None  # wrapper that hides the destination, if the chain ended there


def unwrap_once(url: str, generic: bool = True) -> tuple[str, str | None, bool]:
    """(inner URL or the same URL, wrapper name or None, opaque)."""
    wrapper = match(url)
    if wrapper is not None:
        try:
            inner = wrapper.unwrap(url)
        except (ValueError, UnicodeError):
            inner = None
        if inner:
            return inner, wrapper.name, False
        return url, wrapper.name, wrapper.opaque
    if generic and _may_hold_url(url):
        inner = _query(url, *GENERIC_PARAMS)
        if inner:
            return _decoded_url(inner), "redirector", False
    return url, None, False


def unwrap(url: str, max_depth: int = MAX_DEPTH, generic: bool = True) -> Unwrapped:
    """Peel wrappers until none applies; `url` should already be normalized."""
    current = url
    chain: list[str] = []
    for _ in range(max_depth):
        inner, name, opaque = unwrap_once(current, generic)
        if name is None:
            break
        if opaque or inner == current:
            return Unwrapped(current, tuple(chain), name if opaque else None)
        normalized = normalize(inner)
        if normalized is None:
            break  # the wrapper held something that is not a web URL: keep the wrapper
        chain.append(name)
        current = normalized
    return Unwrapped(current, tuple(chain))
