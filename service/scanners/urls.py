"""URL scanner: every link in the message, normalized and unwrapped, checked for phish signals.

Sources: text and HTML bodies (`href`, `src`, form `action`, meta refresh, CSS `url()`),
HTML/SVG/calendar/text attachments, Office relationships with `TargetMode="External"`,
PDF `/URI` strings, and QR codes in image attachments, inline images and `data:image`
URIs (zxing-cpp). Every URL goes through `service.urls` (one normalizer, one unwrap
table), the same path the parser uses for `ParsedMessage.urls`. No URL is ever fetched.

Options: `brands` (extra brand domains to protect), `brands_file` (default
service/data/brands.yaml), `hosts_file` (default service/data/url_hosts.yaml), `qr`,
`max_images`, `max_image_pixels`, `max_urls`, `scan_attachments`.

Outputs, one finding per code per message with up to 8 URLs as evidence. Severities are
set so that one weak signal does not flag legitimate mail on its own:
- `lookalike_domain`: punycode/homoglyph of an organisation or brand domain HIGH,
  one-letter typo MEDIUM; brand name as a token of another domain (combosquat) or under
  another suffix LOW.
- `qr_code_url` MEDIUM (evidence: the unwrapped URL in the code); `data_uri` MEDIUM for a
  `data:` link, form action or refresh (not for inline `data:image` pictures).
- `ip_literal_host` MEDIUM; `login_path` LOW, MEDIUM on an IP, free-hosting, shortener
  or lookalike host; `link_text_mismatch` MEDIUM when the text shows an organisation or
  brand domain, LOW otherwise (newsletters route links through trackers).
- `url_shortener`, `free_hosting`, `file_sharing` LOW (data file: the security team's).

Limitations: no redirect is followed, so a shortener's target and a Mimecast `/s/`
token's destination stay unknown (reported as the wrapper); PDF URIs inside compressed
object streams are left to the pdf scanner; anchor text is compared on registrable
domains, which `service.lookalike.base_domain` approximates without the full PSL.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
from dataclasses import dataclass, field

from service.lookalike import Lookalike
from service.model import Code, Finding, ParsedMessage, PartKind, Severity, bounded_evidence
from service.scanners.base import ScanContext
from service.senderdata import Brand, load_brands
from service.urls import hosts
from service.urls import qr as qrcode
from service.urls.collect import UrlCollector, known_urls
from service.urls.documents import attachment_links
from service.urls.extract import Link, html_links, text_urls
from service.urls.normalize import host_of, normalize_host
from service.urls.signals import (
    LookalikeIndex,
    domain_in_text,
    ip_host,
    login_path,
    refine_kind,
    same_site,
)

NAME = "urls"

MAX_DATA_IMAGE_CHARS = 2 * 1024 * 1024
# Body characters below which a message without attachments is scanned on the event
# loop (the median phish has ~20 KB of bodies: ~1 ms here).
INLINE_CHARS = 64 * 1024
# Combosquats (a brand name as one token of another domain) and a brand's name under
# another suffix are common in real mail (media-amazon.com, windows.net): LOW.
_LOOKALIKE_SEVERITY = {"punycode": Severity.HIGH, "homoglyph": Severity.HIGH,
                       "typo": Severity.MEDIUM}


@dataclass(frozen=True, slots=True)
class Options:
    brands: tuple[str, ...] = ()
    brands_file: str = ""
    hosts_file: str = ""
    qr: bool = True
    max_images: int = 10
    max_image_pixels: int = qrcode.MAX_PIXELS
    max_urls: int = 500
    scan_attachments: bool = True


@dataclass(slots=True)
class _Hits:
    """Findings being built: per code, the top severity, the first part, the evidence."""

    by_code: dict[Code, tuple[Severity, str, list[str]]] = field(default_factory=dict)

    def add(self, code: Code, severity: Severity, part: str, evidence: str) -> None:
        current = self.by_code.get(code)
        if current is None:
            self.by_code[code] = (severity, part, [evidence])
            return
        top, first, items = current
        if evidence not in items:
            items.append(evidence)
        if severity.rank > top.rank:
            self.by_code[code] = (severity, first, items)

    def findings(self) -> list[Finding]:
        return [Finding(scanner=NAME, code=code, severity=sev, part=part,
                        evidence=bounded_evidence(items))
                for code, (sev, part, items) in self.by_code.items()]


# Hosts whose (owned, lookalike) answer is remembered per configuration; past this the
# memo starts over, so hostile mail with endless random hosts cannot grow it.
MAX_HOST_MEMO = 16384


@dataclass(frozen=True, slots=True)
class _Protected:
    exact: frozenset[str]  # org, brand and extra domains: a host under one is theirs
    wildcard: tuple[Brand, ...]  # brands with "name.*" domains, checked the slow way
    domains: tuple[str, ...]  # org + brand domains, in lookalike_of's form
    index: LookalikeIndex
    # host -> (owned, lookalike): a pure function of the host and this reference data,
    # remembered because mail repeats hosts (trackers, CDNs, the brands themselves).
    memo: dict[str, tuple[bool, Lookalike | None]] = field(
        default_factory=dict, compare=False, hash=False)

    def owns(self, host: str) -> bool:
        labels = host.split(".")
        if any(".".join(labels[i:]) in self.exact for i in range(len(labels))):
            return True
        return any(b.owns(host) for b in self.wildcard)

    def judge(self, host: str) -> tuple[bool, Lookalike | None]:
        found = self.memo.get(host)
        if found is None:
            owned = self.owns(host)
            found = (owned, None if owned else self.index.match(host))
            if len(self.memo) >= MAX_HOST_MEMO:
                self.memo.clear()
            self.memo[host] = found
        return found


@functools.lru_cache(maxsize=8)
def _protected(brands_file: str, extra: tuple[str, ...], org: tuple[str, ...]) -> _Protected:
    # Derived, immutable reference data (not message state): built once per configuration.
    brands = load_brands(brands_file or None)
    domains: list[str] = list(org) + list(extra)
    for b in brands:
        domains.extend(d[:-2] + ".com" if d.endswith(".*") else d for d in b.domains)
    unique = tuple(dict.fromkeys(d.lower() for d in domains if d))
    exact = frozenset(d for d in list(org) + list(extra) + [d for b in brands for d in b.domains]
                      if not d.endswith(".*"))
    wildcard = tuple(b for b in brands if any(d.endswith(".*") for d in b.domains))
    return _Protected(exact, wildcard, unique, LookalikeIndex(unique))


def _data_uri(link: Link) -> bool:
    """A `data:` URI a reader navigates to or submits into, or a page that loads one as a
    document; inline pictures (an SVG in `<img>` runs no script) are normal."""
    if link.where in ("href", "action", "refresh"):
        return True
    return not link.url[:40].lower().startswith("data:image/")


def _data_image(url: str) -> bytes | None:
    head, _, payload = url[:MAX_DATA_IMAGE_CHARS].partition(",")
    if not head.lower().startswith("data:image/") or not head.lower().endswith(";base64"):
        return None
    try:
        return base64.b64decode(payload, validate=False)
    except (binascii.Error, ValueError):
        return None


class _Scan:
    def __init__(self, options: Options, protected: _Protected, host_lists: hosts.HostLists,
                 msg: ParsedMessage):
        self.options = options
        self.protected = protected
        self.hosts = host_lists
        # The parser resolved these already: resolving is most of what a URL costs here.
        self.collector = UrlCollector(options.max_urls, known_urls(msg.urls))
        self.hits = _Hits()
        self.images: list[tuple[str, bytes]] = []

    def link(self, link: Link, part: str) -> None:
        if link.url[:5].lower() == "data:":
            if _data_uri(link):
                self.hits.add(Code.DATA_URI, Severity.MEDIUM, part, link.url[:80])
            elif self.options.qr and len(self.images) < self.options.max_images:
                data = _data_image(link.url)
                if data:
                    self.images.append((part, data))
            return
        before = self.collector.full
        self.collector.add(link.url, part)
        if link.text and link.where == "href" and not before:
            self.text_mismatch(link, part)

    def text_mismatch(self, link: Link, part: str) -> None:
        shown = domain_in_text(link.text)
        shown_host = normalize_host(shown) if shown else None
        if shown_host is None:
            return
        resolved = self.collector.resolve(link.url)
        if resolved is None or resolved.opaque:
            return
        target = host_of(resolved.url)
        if not target or same_site(shown_host, target):
            return
        severity = Severity.MEDIUM if self.protected.owns(shown_host) and \
            not self.protected.owns(target) else Severity.LOW
        self.hits.add(Code.LINK_TEXT_MISMATCH, severity, part,
                      f"{link.text[:60]} -> {resolved.url[:120]}")

    def qr_codes(self) -> None:
        for part, data in self.images:
            for payload in qrcode.decode(data, self.options.max_image_pixels):
                candidates = list(text_urls(payload))
                if not candidates and payload.lower().startswith("www."):
                    candidates = ["http://" + payload.split()[0]]
                for raw in candidates[:4]:
                    resolved = self.collector.resolve(raw)
                    if resolved is None:
                        continue
                    self.collector.add(raw, part)
                    self.hits.add(Code.QR_CODE_URL, Severity.MEDIUM, part, resolved.url)

    def judge(self) -> None:
        for url in self.collector.urls():
            host = host_of(url.url)
            if not host:
                continue
            part, evidence = url.source, url.url[:160]
            weak_host = False
            if ip_host(host):
                weak_host = True
                self.hits.add(Code.IP_LITERAL_HOST, Severity.MEDIUM, part, evidence)
            owned, found = self.protected.judge(host)
            if found is not None:
                weak_host = True
                kind = refine_kind(found)
                self.hits.add(Code.LOOKALIKE_DOMAIN, _LOOKALIKE_SEVERITY.get(kind, Severity.LOW),
                              part, f"{kind} of {found.target}: {found.domain}")
            for category in self.hosts.categories(host):
                weak_host = True
                self.hits.add(Code(category), Severity.LOW, part, evidence)
            segment = login_path(url.url)
            if segment and not owned:
                self.hits.add(Code.LOGIN_PATH, Severity.MEDIUM if weak_host else Severity.LOW,
                              part, evidence)


def scan_sync(msg: ParsedMessage, options: Options, org: tuple[str, ...]) -> list[Finding]:
    protected = _protected(options.brands_file, tuple(options.brands), org)
    state = _Scan(options, protected, hosts.load(options.hosts_file or None), msg)
    for body in msg.bodies:
        if body.kind is PartKind.HTML:
            for link in html_links(body.text):
                state.link(link, body.part_id)
        else:
            for raw in text_urls(body.text):
                state.link(Link(raw, "text"), body.part_id)
    for url in msg.urls:
        state.collector.add(url.original, url.source)
    for att in msg.attachments:
        if options.scan_attachments:
            for link in attachment_links(att):
                state.link(link, att.part_id)
        if options.qr and len(state.images) < options.max_images and att.data and \
                qrcode.looks_like_image(att.effective_type, att.filename, att.data[:16]):
            state.images.append((att.part_id, att.data))
    if options.qr:
        state.qr_codes()
    state.judge()
    return state.hits.findings()


def _small(msg: ParsedMessage) -> bool:
    """Bodies only, no pictures to decode, a few pages of text: about a millisecond."""
    if msg.attachments:
        return False
    size = 0
    for body in msg.bodies:
        size += len(body.text)
        if size > INLINE_CHARS or "data:image" in body.text:
            return False
    return True


async def scan(msg: ParsedMessage, options: Options, ctx: ScanContext) -> list[Finding]:
    if _small(msg):
        # On the event loop: a thread hop costs a good part of the scan itself, and the
        # time is bounded by the size test above.
        return scan_sync(msg, options, ctx.organisation_domains)
    # CPU-bound (HTML tokenizing, QR decoding, documents): off the event loop so the
    # dispatcher's timeout stays effective and other scanners keep running.
    return await asyncio.to_thread(scan_sync, msg, options, ctx.organisation_domains)
