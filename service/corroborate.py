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

A free-mail sender (`sender_freemail`, INFO: people write from home) is a sender signal
for one pairing only: a shortener or free-hosting link that the pdf scanner found inside
an attached PDF. A PDF whose job is to carry a hidden link, from a throwaway account, is
the lure; a person's PDF (a CV, a flyer) links to their own pages, and free mail with an
ordinary link in the body (a shared Google Doc, a bit.ly) is left alone.
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
# What a free-mail sender pairs with: these codes, from this scanner only.
FREEMAIL_LINK_SIGNALS = frozenset({Code.URL_SHORTENER, Code.FREE_HOSTING})
FREEMAIL_LINK_SCANNER = "pdf"


def _stable(f: Finding) -> bool:
    return f.status in (None, "stable")


def corroborated(findings: list[Finding]) -> Finding | None:
    """A MEDIUM finding naming the pair when a sender and a link signal agree, else None.

    Only stable, at-least-LOW findings count (the INFO `sender_freemail` fact aside), and
    the two must come from different scanners: one scanner's own combinations are that
    scanner's business.
    """
    sender: Finding | None = None
    link: Finding | None = None
    freemail: Finding | None = None
    pdf_link: Finding | None = None
    for f in findings:
        if not _stable(f):
            continue
        if f.code is Code.SENDER_FREEMAIL:
            freemail = freemail or f
            continue
        if f.severity.rank < Severity.LOW.rank:
            continue
        if sender is None and f.code in SENDER_SIGNALS:
            sender = f
        elif f.code in LINK_SIGNALS:
            link = link or f
            if (pdf_link is None and f.code in FREEMAIL_LINK_SIGNALS
                    and f.scanner == FREEMAIL_LINK_SCANNER):
                pdf_link = f
    if sender is None or link is None or sender.scanner == link.scanner:
        sender, link = freemail, pdf_link
    if sender is None or link is None or sender.scanner == link.scanner:
        return None
    return Finding(
        scanner=SCANNER, code=Code.CORROBORATED, severity=Severity.MEDIUM,
        description="a sender signal and a link signal from different scanners agree",
        evidence=bounded_evidence([f"sender: {sender.scanner}/{sender.code.value}",
                                   f"link: {link.scanner}/{link.code.value}"]),
    )
