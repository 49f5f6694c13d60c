"""Per-URL signals for the URL scanner: IP-literal hosts, login-looking paths, link text.

Pure functions over normalized URLs and anchor text; the scanner decides severities.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from service.lookalike import Lookalike, base_domain, lookalike_of, skeleton, unicode_domain

# Paths that serve a sign-in form. Matched per path segment (lowercased), with any file
# extension dropped, so `/secure/login.php` and `/owa/` match but `/blog/logistics` does not.
LOGIN_SEGMENTS = frozenset({
    "login", "log-in", "log_in", "logon", "signin", "sign-in", "sign_in", "owa",
    "wp-admin", "wp-login", "webmail", "adfs", "sso", "oauth2", "authenticate",
    "verify", "verification", "validate", "credentials", "password", "reset-password",
    "account-verify", "secure-login", "auth", "mfa", "2fa", "unlock", "reactivate",
})
_DOMAIN_IN_TEXT = re.compile(
    r"^(?:https?://)?(?:[^\s/@]*@)?((?:[a-z0-9\u00a1-\uffff-]+\.)+[a-z\u00a1-\uffff]{2,63})"
    r"(?::\d+)?(?:[/?#]\S*)?$")


def ip_host(host: str) -> str | None:
    """The IP address when the host is an IP literal (already normalized), else None."""
    if ":" not in host and not host[-1:].isdigit():
        return None  # an IPv4 literal ends in a digit, an IPv6 one has colons: most hosts
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def login_path(url: str) -> str | None:
    """The login-looking path segment of a URL, or None."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    for segment in parts.path.lower().split("/"):
        stem = segment.rsplit(".", 1)[0] if "." in segment else segment
        if stem in LOGIN_SEGMENTS:
            return segment
    return None


def domain_in_text(text: str) -> str | None:
    """The domain an anchor text shows when the whole text reads as a URL or domain.

    "www.paypal.com" and "https://paypal.com/login" count; "click here" and sentences
    that merely mention a domain do not (too many newsletters write those).
    """
    text = text.strip().strip("<>[]()\"'").lower()
    if not text or len(text) > 200 or " " in text:
        return None
    m = _DOMAIN_IN_TEXT.match(text)
    if m is None:
        return None
    domain = m.group(1).strip(".")
    tld = domain.rsplit(".", 1)[-1]
    # "file.pdf", "invoice.docx": a file name, not a host, unless written as a URL.
    if not text.startswith(("http", "www.")) and tld in _FILE_EXTENSIONS:
        return None
    return domain


_FILE_EXTENSIONS = frozenset({"pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "zip",
                              "htm", "html", "txt", "jpg", "png", "gif", "exe", "php", "asp",
                              "aspx", "js", "csv", "eml", "msg", "rar", "iso", "img"})


def same_site(a: str, b: str) -> bool:
    return base_domain(a) == base_domain(b)


def _typo_possible(name: str, letters: frozenset[str], t_name: str,
                   t_letters: frozenset[str]) -> bool:
    """Necessary for `lookalike_of`'s typo test: its edit limit bounds length and letters.

    One edit (insert, delete, substitute, swap) adds or removes at most 2 distinct letters.
    """
    if len(t_name) < 4:
        return False
    limit = 2 if len(t_name) >= 9 else 1
    return abs(len(name) - len(t_name)) <= limit and len(letters ^ t_letters) <= 2 * limit


class LookalikeIndex:
    """`lookalike_of` over many protected domains, fast: cheap tests pick the candidates.

    `lookalike_of` compares a host with every protected domain (skeletons, edit distance,
    tokens), which costs tens of milliseconds per host against a brand list. Each of its
    positive outcomes implies one of the equality or length tests here, so only the few
    candidate domains that pass one get the full comparison: same answers, far cheaper.
    The equality tests are dictionary look-ups and the typo test only visits names of a
    near length, so a host costs a handful of look-ups, not one test per protected domain.
    """

    def __init__(self, protected: tuple[str, ...]) -> None:
        self._protected = protected
        self._by_base: dict[str, list[int]] = {}  # skeleton of the registrable domain
        self._by_name: dict[str, list[int]] = {}  # name as written (a token of the host)
        self._by_s_name: dict[str, list[int]] = {}  # skeleton of the name
        # Typo candidates by name length: (index, name, its letters).
        self._by_len: dict[int, list[tuple[int, str, frozenset[str]]]] = {}
        for i, target in enumerate(protected):
            t_base = base_domain(unicode_domain(target))
            t_name = t_base.split(".", 1)[0]
            self._by_base.setdefault(skeleton(t_base), []).append(i)
            self._by_name.setdefault(t_name, []).append(i)
            self._by_s_name.setdefault(skeleton(t_name), []).append(i)
            if len(t_name) >= 4:  # _typo_possible's first test, applied once here
                self._by_len.setdefault(len(t_name), []).append((i, t_name,
                                                                 frozenset(t_name)))

    def match(self, host: str) -> Lookalike | None:
        shown = unicode_domain(host)
        base = base_domain(shown)
        name = base.split(".", 1)[0]
        s_base, s_name = skeleton(base), skeleton(name)
        tokens = set(shown.replace("-", ".").split("."))
        s_tokens = {skeleton(t) for t in tokens}
        found: set[int] = set(self._by_base.get(s_base, ()))
        found.update(self._by_s_name.get(s_name, ()))
        for token in tokens:
            found.update(self._by_name.get(token, ()))
        for s_token in s_tokens:
            found.update(self._by_s_name.get(s_token, ()))
        letters = frozenset(name)
        # A target name is at most 2 letters longer or shorter (limit 2 at 9+ letters).
        for length in range(max(4, len(name) - 2), len(name) + 3):
            for i, t_name, t_letters in self._by_len.get(length, ()):
                if i not in found and _typo_possible(name, letters, t_name, t_letters):
                    found.add(i)
        if not found:
            return None
        # In the protected list's order: `lookalike_of` answers with the first that fits.
        return lookalike_of(host, [self._protected[i] for i in sorted(found)])


def refine_kind(found: Lookalike) -> str:
    """`lookalike_of` calls the same name under another suffix a homoglyph (paypal.xyz for
    paypal.com); that also covers a brand's own other domains (windows.net for
    windows.com), so it is told apart here as `suffix`, a weaker signal."""
    if found.kind != "homoglyph":
        return found.kind
    shown = base_domain(found.domain)
    target = base_domain(unicode_domain(found.target))
    return "homoglyph" if skeleton(shown) == skeleton(target) else "suffix"
