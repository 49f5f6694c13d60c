"""Sender checks: address syntax, SPF/DKIM/DMARC failures, impersonation, Reply-To, first-time.

STATEFUL: the first-time-sender check counts every external sender in the store
(`ctx.store.incr("sender:<address or domain>")`). Without a store (`trawler scan`
without a service) that check is skipped and everything else still runs.

Options:
  vip_names: names of internal people worth impersonating ("Jane Doe"); matched as
    whole words in any order, case- and homoglyph-insensitive.
  brands_file / freemail_file: data files (default: service/data/brands.yaml and
    service/data/freemail_domains.txt).
  authserv_ids: the authserv-id(s) our own boundary writes in Authentication-Results;
    empty = trust only the topmost header. Exchange Online writes no authserv-id, so
    leave it empty there.
  check_deliverability: let email-validator resolve MX records (DNS; off by default).
  first_time_sender: count senders in the store (default true); first_time_by:
    "auto" (the address for free-mail domains, else the domain), "address" or "domain".
Outputs (codes): invalid_address (From, Reply-To, Return-Path, Sender syntax),
  spf_fail, dkim_fail, dmarc_fail (also Exchange Online's compauth=fail),
  display_name_vip, display_name_brand, reply_to_mismatch, reply_to_freemail,
  sender_lookalike (From domain imitating an organisation domain), first_time_sender,
  sender_freemail (INFO: the From domain is on the free-mail list; a fact for the verdict
  policy in service/corroborate.py, never a signal here).
Severity: every signal alone is LOW (real mail trips each of them: mailing lists
  rewrite Reply-To and break DKIM, people write from home), except a VIP's name or a
  lookalike of our own domain from outside, or a brand's name on a free-mail address
  (MEDIUM). Two strong signals of different
  kinds (syntax, auth, identity, reply), or impersonation plus any other signal, make
  every finding MEDIUM; impersonation plus DMARC failure or a free-mail Reply-To makes
  it HIGH. SPF/DKIM failure, Reply-To to another domain and first-time sender are weak:
  they only add to impersonation.
Limitations: no DNS, so a domain that cannot receive mail is not seen; the
  registrable domain is approximated (service/lookalike.py); the first-time counter
  never forgets, so it says "new" during the first days after deployment for every
  sender, and a re-scan of a message no longer calls its sender new.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from email.utils import getaddresses

from email_validator import EmailNotValidError, validate_email

from service.lookalike import base_domain, in_domain, lookalike_of
from service.model import Code, Finding, ParsedMessage, Severity, bounded_evidence
from service.scanners.base import ScanContext
from service.senderdata import (
    brand_named,
    failures,
    load_brands,
    load_domain_list,
    selected_auth_results,
    words,
)
from service.state.base import StoreUnavailable

NAME = "headers"
log = logging.getLogger(__name__)

_ANGLE = re.compile(r"<\s*([^<>\s]*@[^<>\s]*)\s*>")
MAX_ADDRESS_HEADER = 2048
MAX_REPLY_TO = 5

# Signal kinds: two of different kinds are worth more than either alone.
_KIND = {
    Code.INVALID_ADDRESS: "syntax",
    Code.SPF_FAIL: "auth", Code.DKIM_FAIL: "auth", Code.DMARC_FAIL: "auth",
    Code.DISPLAY_NAME_VIP: "identity", Code.DISPLAY_NAME_BRAND: "identity",
    Code.SENDER_LOOKALIKE: "identity",
    Code.REPLY_TO_MISMATCH: "reply", Code.REPLY_TO_FREEMAIL: "reply",
    Code.FIRST_TIME_SENDER: "history",
}
_ALONE = {Code.DISPLAY_NAME_VIP: Severity.MEDIUM, Code.SENDER_LOOKALIKE: Severity.MEDIUM}
# Mismatch alone is too common on mailing lists to count as a second kind.
_WEAK = {Code.REPLY_TO_MISMATCH, Code.FIRST_TIME_SENDER, Code.SPF_FAIL, Code.DKIM_FAIL}


@dataclass(frozen=True, slots=True)
class Options:
    vip_names: tuple[str, ...] = ()
    brands_file: str | None = None
    freemail_file: str | None = None
    authserv_ids: tuple[str, ...] = ()
    check_deliverability: bool = False
    first_time_sender: bool = True
    first_time_by: str = "auto"


@dataclass(frozen=True, slots=True)
class Mailbox:
    address: str  # lower-cased addr-spec as written
    display: str
    valid: bool
    problem: str | None  # why the header is malformed, for evidence

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2].strip("[]")


def _check(address: str, deliverability: bool) -> str | None:
    if not deliverability:
        return _check_syntax(address)
    try:
        validate_email(address, check_deliverability=deliverability, allow_smtputf8=True,
                       allow_quoted_local=True, allow_domain_literal=True)
    except EmailNotValidError as exc:
        return str(exc)[:120]
    return None


@functools.lru_cache(maxsize=4096)
def _check_syntax(address: str) -> str | None:
    # Syntax only (no DNS): a pure function of the string, and the same address comes
    # back in From, Sender and Return-Path and in message after message.
    try:
        validate_email(address, check_deliverability=False, allow_smtputf8=True,
                       allow_quoted_local=True, allow_domain_literal=True)
    except EmailNotValidError as exc:
        return str(exc)[:120]
    return None


def parse_mailbox(value: str | None, deliverability: bool = False) -> Mailbox | None:
    """The one mailbox of an address header, tolerant of the junk phish puts there.

    An angle address wins (that is what a mail client shows); the header is malformed
    when it holds other address-like text too, or the address fails email-validator.
    """
    if not value or not value.strip():
        return None
    value = value[:MAX_ADDRESS_HEADER]
    try:
        pairs = [(n, a) for n, a in getaddresses([value]) if a or n]
    except Exception:  # hostile headers; fall back to the angle address below
        pairs = []
    angle = _ANGLE.findall(value)
    problem = None
    if angle:
        address = angle[0]
        display = value[:value.find("<")].strip().strip('",\' ')
        if len(angle) > 1 or len(pairs) > 1:
            problem = "more than one address"
    elif pairs and "@" in pairs[0][1]:
        display, address = pairs[0]
        if len(pairs) > 1:
            problem = "more than one address"
    else:
        return Mailbox(value.strip()[:200].lower(), "", False, "no address")
    address = address.strip().lower()
    reason = _check(address, deliverability)
    return Mailbox(address, display.strip(), reason is None and problem is None,
                   reason or problem)


def _finding(code: Code, evidence: list[str], part: str = "headers") -> Finding:
    return Finding(scanner=NAME, code=code, severity=_ALONE.get(code, Severity.LOW),
                   part=part, evidence=bounded_evidence(evidence))


def _strong(f: Finding) -> bool:
    # A bad Reply-To, Return-Path or Sender is common in sloppy bulk mail; a bad From is not.
    if f.code is Code.INVALID_ADDRESS:
        return bool(f.evidence) and f.evidence[0].startswith("From:")
    return f.code not in _WEAK


def _escalate(findings: list[Finding]) -> list[Finding]:
    """Severity from the combination, since the verdict only takes the highest one."""
    codes = {f.code for f in findings}
    strong_kinds = {_KIND[f.code] for f in findings if _strong(f)}
    all_kinds = {_KIND[c] for c in codes}
    identity = "identity" in strong_kinds
    if identity and codes & {Code.DMARC_FAIL, Code.REPLY_TO_FREEMAIL}:
        level = Severity.HIGH
    elif len(strong_kinds) >= 2 or (identity and len(all_kinds) >= 2):
        level = Severity.MEDIUM
    else:
        return findings
    return [Finding(scanner=f.scanner, code=f.code,
                    severity=level if level.rank > f.severity.rank else f.severity,
                    part=f.part, evidence=f.evidence) for f in findings]


def _is_org(domain: str, org: tuple[str, ...]) -> bool:
    return any(in_domain(domain, d) for d in org)


def _display_checks(sender: Mailbox, options: Options, org: tuple[str, ...],
                    findings: list[Finding]) -> None:
    display = sender.display
    if not display:
        return
    if options.vip_names and not _is_org(sender.domain, org):
        dwords = set(words(display))
        for vip in options.vip_names:
            vwords = words(vip)
            if vwords and set(vwords) <= dwords:
                findings.append(_finding(Code.DISPLAY_NAME_VIP,
                                         [f"display name: {display}", f"vip: {vip}",
                                          f"address: {sender.address}"]))
                break
    hit = brand_named(display, load_brands(options.brands_file))
    if hit is not None and not hit[0].owns(sender.domain) and not _is_org(sender.domain, org):
        evidence = [f"display name: {display}", f"brand: {hit[0].key}",
                    f"address: {sender.address}"]
        finding = _finding(Code.DISPLAY_NAME_BRAND, evidence)
        if sender.domain in load_domain_list(options.freemail_file):
            # A brand never writes from a free-mail account; a person named like one might
            # (hence LOW otherwise), a "PayPal" at gmail.com does not.
            finding = Finding(scanner=NAME, code=Code.DISPLAY_NAME_BRAND,
                              severity=Severity.MEDIUM, part="headers",
                              evidence=bounded_evidence([*evidence, "free-mail sender"]))
        findings.append(finding)


def _reply_to_checks(msg: ParsedMessage, sender: Mailbox | None, options: Options,
                     findings: list[Finding]) -> None:
    freemail = load_domain_list(options.freemail_file)
    mismatched: list[str] = []
    free: list[str] = []
    for value in msg.header_all("Reply-To")[:MAX_REPLY_TO]:
        box = parse_mailbox(value, options.check_deliverability)
        if box is None:
            continue
        if not box.valid:
            findings.append(_finding(Code.INVALID_ADDRESS, [f"Reply-To: {value}",
                                                            str(box.problem)]))
            continue
        if sender is None or not sender.domain:
            continue
        if base_domain(box.domain) == base_domain(sender.domain):
            continue
        if box.domain in freemail:
            free.append(box.address)
        else:
            mismatched.append(box.address)
    if sender is None:
        return
    if free:
        findings.append(_finding(Code.REPLY_TO_FREEMAIL, [f"reply-to: {a}" for a in free]
                                 + [f"from: {sender.address}"]))
    elif mismatched:
        findings.append(_finding(Code.REPLY_TO_MISMATCH, [f"reply-to: {a}" for a in mismatched]
                                 + [f"from: {sender.address}"]))


def _syntax_checks(msg: ParsedMessage, options: Options, findings: list[Finding]) -> None:
    for name in ("Sender", "Return-Path"):
        value = msg.header(name)
        if value is None or value.strip() in ("<>", ""):
            continue  # the null reverse-path of bounces is valid
        box = parse_mailbox(value, options.check_deliverability)
        if box is not None and not box.valid:
            findings.append(_finding(Code.INVALID_ADDRESS, [f"{name}: {value}",
                                                            str(box.problem)]))


async def _first_time(sender: Mailbox, options: Options, ctx: ScanContext,
                      findings: list[Finding]) -> None:
    store = ctx.store
    if store is None or not options.first_time_sender:
        return
    by = options.first_time_by
    if by == "auto":
        by = "address" if sender.domain in load_domain_list(options.freemail_file) else "domain"
    key = sender.address if by == "address" else base_domain(sender.domain)
    try:
        count = await store.incr(f"sender:{key}")
    except StoreUnavailable as exc:
        log.warning("first-time sender check skipped: %s", exc)
        return
    if count == 1:
        findings.append(_finding(Code.FIRST_TIME_SENDER, [f"{by}: {key}"]))


async def scan(msg: ParsedMessage, options: Options, ctx: ScanContext) -> list[Finding]:
    if options.first_time_by not in ("auto", "address", "domain"):
        raise ValueError("first_time_by must be auto, address or domain")
    findings: list[Finding] = []
    org = ctx.organisation_domains
    from_value = msg.header("From")
    sender = parse_mailbox(from_value, options.check_deliverability)
    if sender is not None and not sender.valid:
        findings.append(_finding(Code.INVALID_ADDRESS, [f"From: {from_value}",
                                                        str(sender.problem)]))
    _syntax_checks(msg, options, findings)

    fails = failures(selected_auth_results(msg.header_all("Authentication-Results"),
                                           options.authserv_ids))
    for method, code in (("spf", Code.SPF_FAIL), ("dkim", Code.DKIM_FAIL)):
        if method in fails:
            findings.append(_finding(code, [fails[method].text]))
    dmarc = fails.get("dmarc") or fails.get("compauth")
    if dmarc is not None:
        findings.append(_finding(Code.DMARC_FAIL, [dmarc.text]))

    external = sender is not None and "@" in sender.address and not _is_org(sender.domain, org)
    if sender is not None and external:
        _display_checks(sender, options, org, findings)
        look = lookalike_of(sender.domain, org) if org else None
        if look is not None:
            findings.append(_finding(Code.SENDER_LOOKALIKE,
                                     [f"from domain: {look.domain}", f"imitates: {look.target}",
                                      f"kind: {look.kind}"]))
    _reply_to_checks(msg, sender if sender is not None and sender.valid else None, options,
                     findings)
    if sender is not None and sender.valid and external:
        await _first_time(sender, options, ctx, findings)
    findings = _escalate(findings)
    if (sender is not None and sender.valid and external
            and sender.domain in load_domain_list(options.freemail_file)):
        # A fact, not a signal (people write from home): INFO, outside the escalation
        # above; only the verdict policy pairs it with a link hidden in a PDF.
        findings.append(Finding(scanner=NAME, code=Code.SENDER_FREEMAIL, severity=Severity.INFO,
                                part="headers", evidence=(f"from: {sender.address}",)))
    return findings
