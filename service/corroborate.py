"""Verdict policy: two weak signals of different kinds, from different scanners, are one medium.

Each scanner keeps its own findings LOW when real mail trips them alone: a DMARC failure
(forwarded and list mail), a shortener or free-hosting link (newsletters), link text that
names another domain (click trackers). The dispatcher runs scanners concurrently, so no
scanner sees the others; this is the one place that combines them.

The pairing is narrow on purpose. A *sender* signal that the receiving boundary or the
headers vouch for (DMARC/compauth failure, a Reply-To to a free-mail account, a brand's
name on someone else's address, a lookalike of our own domain) plus a *link* signal
(shortener, free hosting, file sharing, anchor text naming another domain, lookalike
host, login path, a link inside a PDF) means: the sender is not who it claims to be and
the link goes somewhere it should not. Either alone stays LOW. Signals that real mail
produces all the time are left out: SPF/DKIM failures alone (forwarding), Reply-To to
another company domain (mailing lists, ESPs), first-time sender, address syntax.
"""

from __future__ import annotations

from service.model import Code, Finding, Severity, bounded_evidence

SCANNER = "verdict"

SENDER_SIGNALS = frozenset({
    Code.DMARC_FAIL, Code.REPLY_TO_FREEMAIL, Code.DISPLAY_NAME_BRAND, Code.SENDER_LOOKALIKE,
})
LINK_SIGNALS = frozenset({
    Code.URL_SHORTENER, Code.FREE_HOSTING, Code.FILE_SHARING, Code.LINK_TEXT_MISMATCH,
    Code.LOOKALIKE_DOMAIN, Code.LOGIN_PATH, Code.PDF_URI,
})


def corroborated(findings: list[Finding]) -> Finding | None:
    """A MEDIUM finding naming the pair when a sender and a link signal agree, else None.

    Only stable, at-least-LOW findings count, and the two must come from different
    scanners: one scanner's own combinations are that scanner's business.
    """
    sender: Finding | None = None
    link: Finding | None = None
    for f in findings:
        if f.status not in (None, "stable") or f.severity.rank < Severity.LOW.rank:
            continue
        if sender is None and f.code in SENDER_SIGNALS:
            sender = f
        elif link is None and f.code in LINK_SIGNALS:
            link = f
    if sender is None or link is None or sender.scanner == link.scanner:
        return None
    return Finding(
        scanner=SCANNER, code=Code.CORROBORATED, severity=Severity.MEDIUM,
        description="a sender signal and a link signal from different scanners agree",
        evidence=bounded_evidence([f"sender: {sender.scanner}/{sender.code.value}",
                                   f"link: {link.scanner}/{link.code.value}"]),
    )
