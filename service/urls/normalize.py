"""Canonical form of a URL: one spelling per address, so unwrapping, dedup and host checks agree.

Case (scheme and host), IDNA (hosts become their ASCII `xn--` form), default ports,
RFC 3986 percent-encoding (unreserved characters decoded, hex upper-cased), dot
segments, and IPv4 hosts written in decimal/hex/octal shorthand turned into dotted
quads. Pure string work: nothing is resolved or fetched. Never raises; an input that
cannot be a URL gives None.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit, urlunsplit

MAX_URL_LENGTH = 2048
_DEFAULT_PORTS = {"http": "80", "https": "443", "ftp": "21"}
_UNRESERVED = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
)
_PCT = re.compile(r"%([0-9A-Fa-f]{2})")
# Characters a browser would percent-encode itself before sending the request.
_NEEDS_QUOTING = re.compile(r"[\x00-\x20\x7f\"<>\\^`{|}]")
_HOST_OK = re.compile(r"^[a-z0-9._~!$&'()*+,;=-]*$")
_IPV4_PART = re.compile(r"^(0x[0-9a-f]*|0[0-7]*|[1-9][0-9]*)$")


def _pct_fix(match: re.Match[str]) -> str:
    ch = chr(int(match.group(1), 16))
    return ch if ch in _UNRESERVED else "%" + match.group(1).upper()


def _requote(text: str) -> str:
    if "%" not in text and _NEEDS_QUOTING.search(text) is None:
        return text  # the common case, and the parser calls this for every URL
    text = _PCT.sub(_pct_fix, text)
    return _NEEDS_QUOTING.sub(lambda m: f"%{ord(m.group(0)):02X}", text)


def ipv4_shorthand(host: str) -> str | None:
    """What a browser makes of `3232235777`, `0x7f.1` or `0177.0.0.1`: a dotted quad."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(_IPV4_PART.match(p) for p in parts):
        return None
    values: list[int] = []
    for p in parts:
        if p.startswith("0x"):
            values.append(int(p[2:] or "0", 16))
        elif len(p) > 1 and p.startswith("0"):
            values.append(int(p, 8))
        else:
            values.append(int(p))
    last_bits = 8 * (5 - len(values))
    if any(v > 255 for v in values[:-1]) or values[-1] >= 1 << last_bits:
        return None
    number = values[-1]
    for i, v in enumerate(values[:-1]):
        number |= v << (24 - 8 * i)
    return str(ipaddress.IPv4Address(number))


def normalize_host(host: str) -> str | None:
    """Lower-case ASCII host (IDNA A-label), IPv4 shorthand expanded; None when invalid."""
    host = host.strip().rstrip(".")
    if not host:
        return None
    if host.startswith("["):
        try:
            return "[" + str(ipaddress.IPv6Address(host.strip("[]"))) + "]"
        except ValueError:
            return None
    if "%" in host:
        host = _PCT.sub(lambda m: chr(int(m.group(1), 16)), host)
    host = host.lower()
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            # Not valid IDNA 2003 (e.g. it mixes scripts): keep a stable, ASCII-only form.
            labels = []
            for label in host.split("."):
                try:
                    labels.append("xn--" + label.encode("punycode").decode("ascii")
                                  if not label.isascii() else label)
                except UnicodeError:
                    return None
            host = ".".join(labels)
    if not _HOST_OK.match(host) or len(host) > 253:
        return None
    return ipv4_shorthand(host) or host


def _remove_dot_segments(path: str) -> str:
    if "." not in path:
        return path
    out: list[str] = []
    segments = path.split("/")
    for i, seg in enumerate(segments):
        if seg == "..":
            if len(out) > 1:
                out.pop()
            if i == len(segments) - 1:
                out.append("")
        elif seg == ".":
            if i == len(segments) - 1:
                out.append("")
        else:
            out.append(seg)
    return "/".join(out)


# Already canonical, as most URLs in mail are: lower-case scheme and name-only host (a
# letter in the last label, so never IPv4 shorthand), no port, userinfo, percent sign,
# dot segment or character that needs quoting. Group 1 is the host.
_CANONICAL = re.compile(
    r"https?://([a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z][a-z0-9-]*)"
    r"(?:/(?![./])(?:[A-Za-z0-9\-_~!$&'()*+,;=:@]|/(?![./])|\.(?!\.?(?:/|$|[?#])))*)?"
    r"(?:[?#][A-Za-z0-9\-._~!$&'()*+,;=:@/?#\[\]]*)?")


def canonical_host(url: str) -> str | None:
    """The host when `url` is already canonical (the fast path), else None."""
    m = _CANONICAL.fullmatch(url)
    if m is None or len(url) > MAX_URL_LENGTH:
        return None
    host = m.group(1)
    # label and name length limits: the regex alone would accept a 64-letter label
    return host if len(host) <= 253 and _HOST_OK.match(host) else None


def normalize(url: str) -> str | None:
    """The canonical spelling of an absolute http(s)/ftp URL, or None if it is not one."""
    if canonical_host(url) is not None:
        return url if "/" in url[8:] else url + "/"
    return normalize_slow(url)


def normalize_slow(url: str) -> str | None:
    """`normalize` without the fast path: the reference the fast path is tested against."""
    url = url.strip()[:MAX_URL_LENGTH]
    if not url.isascii():
        url = url.encode("utf-8", "replace").decode("utf-8")  # lone surrogates from 8-bit
    if url.startswith("//"):
        url = "http:" + url
    try:
        parts: SplitResult = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https", "ftp"):
            return None
        netloc = parts.netloc
        port = parts.port  # raises ValueError on a bad port
    except ValueError:
        return None
    userinfo, at, hostport = netloc.rpartition("@")
    host_text = hostport
    if hostport.startswith("["):
        host_text = hostport[: hostport.find("]") + 1]
    elif ":" in hostport:
        host_text = hostport.rpartition(":")[0]
    host = normalize_host(host_text)
    if host is None:
        return None
    port_text = "" if port is None or str(port) == _DEFAULT_PORTS.get(scheme) else f":{port}"
    netloc = f"{_requote(userinfo)}{at}{host}{port_text}"
    path = _remove_dot_segments(_requote(parts.path)) or "/"
    return urlunsplit((scheme, netloc, path, _requote(parts.query), _requote(parts.fragment)))


def host_of(url: str) -> str:
    """Host of an already-normalized URL (no port, no userinfo); '' when there is none."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""
