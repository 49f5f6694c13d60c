"""Verdict policy: which weak signals corroborate each other (service/corroborate.py)."""

from __future__ import annotations

from service.corroborate import corroborated
from service.model import Code, Finding, Severity


def _f(scanner: str, code: Code, severity: Severity = Severity.LOW) -> Finding:
    return Finding(scanner=scanner, code=code, severity=severity)


FREEMAIL = _f("headers", Code.SENDER_FREEMAIL, Severity.INFO)


def test_free_mail_sender_pairs_with_a_throwaway_link_inside_a_pdf() -> None:
    for code in (Code.URL_SHORTENER, Code.FREE_HOSTING):
        extra = corroborated([FREEMAIL, _f("pdf", code)])
        assert extra is not None and extra.severity is Severity.MEDIUM
        assert extra.evidence == ("sender: headers/sender_freemail", f"link: pdf/{code.value}")


def test_free_mail_sender_alone_or_with_ordinary_links_stays_quiet() -> None:
    quiet = [
        # People write from home and paste Google Docs, Drive and bit.ly links.
        [FREEMAIL, _f("urls", Code.FREE_HOSTING)],
        [FREEMAIL, _f("urls", Code.URL_SHORTENER)],
        [FREEMAIL, _f("urls", Code.FILE_SHARING)],
        # A CV or flyer PDF from gmail with any link, or a Drive link inside it.
        [FREEMAIL, _f("pdf", Code.PDF_URI)],
        [FREEMAIL, _f("pdf", Code.FILE_SHARING)],
        [FREEMAIL],
        # Not yet stable: does not count.
        [Finding(scanner="headers", code=Code.SENDER_FREEMAIL, severity=Severity.INFO,
                 status="nursery"), _f("pdf", Code.URL_SHORTENER)],
    ]
    for findings in quiet:
        assert corroborated(findings) is None, findings


def test_the_stronger_sender_pairing_still_wins_when_both_apply() -> None:
    extra = corroborated([FREEMAIL, _f("headers", Code.DMARC_FAIL), _f("pdf", Code.PDF_URI),
                          _f("pdf", Code.URL_SHORTENER)])
    assert extra is not None
    assert extra.evidence == ("sender: headers/dmarc_fail", "link: pdf/pdf_uri")
