"""Exchange journal reports: envelope lines, unwrapping the original, malformed reports."""

from __future__ import annotations

import base64
import quopri

from service.journal import parse_envelope
from service.mime import parse
from service.model import Code, Recipient, RecipientSource

S = RecipientSource
ORIGINAL = (b"From: Alice <alice@ext.example>\r\nTo: list@corp.example\r\n"
            b"Subject: Invoice overdue\r\nMessage-ID: <orig-1@ext.example>\r\n"
            b"Content-Type: multipart/mixed; boundary=inner\r\n\r\n"
            b"--inner\r\nContent-Type: text/html\r\n\r\n"
            b"<a href=\"https://phish.example/pay\">pay</a>\r\n"
            b"--inner\r\nContent-Type: application/octet-stream; name=x.bin\r\n"
            b"Content-Transfer-Encoding: binary\r\n\r\n\x00\xff\xfe binary \x80\r\n"
            b"--inner--\r\n")
ENVELOPE = (b"Sender: alice@ext.example\r\n"
            b"Subject: Invoice overdue\r\n"
            b"Message-Id: <orig-1@ext.example>\r\n"
            b"To: bob@corp.example\r\n"
            b"Cc: carol@corp.example\r\n"
            b"Bcc: dave@corp.example\r\n"
            b"To: erin@corp.example, Expanded: list@corp.example\r\n"
            b"To: gina@corp.example, Forwarded: frank@corp.example\r\n"
            b"Recipient: Hank@Corp.Example\r\n"
            b"To: bob@corp.example\r\n")
EXPECTED = (
    Recipient("bob@corp.example", S.TO),
    Recipient("carol@corp.example", S.CC),
    Recipient("dave@corp.example", S.BCC),
    Recipient("erin@corp.example", S.EXPANDED, "list@corp.example"),
    Recipient("gina@corp.example", S.FORWARDED, "frank@corp.example"),
    Recipient("hank@corp.example", S.RECIPIENT),
)


def report(envelope: bytes = ENVELOPE, original: bytes = ORIGINAL,
           envelope_cte: bytes = b"7bit", original_cte: bytes = b"binary",
           newline: bytes = b"\r\n") -> bytes:
    parts = [
        b"X-MS-Journal-Report: ",
        b"From: journal@corp.example",
        b"To: journal-mailbox@corp.example",
        b"Subject: Invoice overdue",
        b"Content-Type: multipart/mixed; boundary=\"JR\"",
        b"",
        b"--JR",
        b"Content-Type: text/plain; charset=utf-8",
        b"Content-Transfer-Encoding: " + envelope_cte,
        b"",
        envelope,
        b"--JR",
        b"Content-Type: message/rfc822",
        b"Content-Transfer-Encoding: " + original_cte,
        b"",
        original,
        b"--JR--",
        b"",
    ]
    return newline.join(parts)


def test_envelope_lines_become_recipients() -> None:
    env = parse_envelope(ENVELOPE.decode())
    assert env.sender == "alice@ext.example"
    assert env.subject == "Invoice overdue"
    assert env.message_id == "<orig-1@ext.example>"
    assert env.recipients == EXPECTED


def test_envelope_parsing_is_liberal() -> None:
    text = ("  SENDER :  Alice <ALICE@ext.example>  \n"
            "to:bob@corp.example,   EXPANDED:   list@corp.example\n"
            "Recipients: a@corp.example, b@corp.example\n"
            "garbage line without colon\n"
            "On-Behalf-Of: boss@corp.example\n"
            "Cc: <c@corp.example>\r\n")
    env = parse_envelope(text)
    assert env.sender == "alice@ext.example"
    assert env.recipients == (
        Recipient("bob@corp.example", S.EXPANDED, "list@corp.example"),
        Recipient("a@corp.example", S.RECIPIENT),
        Recipient("b@corp.example", S.RECIPIENT),
        Recipient("c@corp.example", S.CC),
    )


def test_report_is_unwrapped_to_the_original() -> None:
    pm = parse(report())
    assert pm.envelope.journaled is True
    assert pm.envelope.recipients == EXPECTED
    assert pm.envelope.sender == "alice@ext.example"
    assert pm.envelope.message_id == "<orig-1@ext.example>"
    assert pm.raw == ORIGINAL
    assert pm.header_block.startswith(b"From: Alice")
    assert pm.message_id == "<orig-1@ext.example>"
    assert pm.from_address == "alice@ext.example"
    assert pm.header("x-ms-journal-report") is None
    assert [u.url for u in pm.urls] == ["https://phish.example/pay"]
    (att,) = pm.attachments
    assert att.part_id == "2"
    assert att.data == b"\x00\xff\xfe binary \x80"
    assert pm.findings == ()


def test_encoded_envelope_parts_and_lf_newlines() -> None:
    lf_env = ENVELOPE.replace(b"\r\n", b"\n")
    lf_orig = ORIGINAL.replace(b"\r\n", b"\n")
    variants = [
        report(base64.encodebytes(ENVELOPE).strip(), envelope_cte=b"base64"),
        report(quopri.encodestring(ENVELOPE), envelope_cte=b"quoted-printable"),
        report(lf_env, lf_orig, newline=b"\n"),
        report(original=base64.encodebytes(ORIGINAL).strip(), original_cte=b"base64"),
    ]
    for raw in variants:
        pm = parse(raw)
        assert pm.envelope.journaled
        assert pm.envelope.recipients == EXPECTED
        assert pm.subject == "Invoice overdue"
        assert [u.url for u in pm.urls] == ["https://phish.example/pay"]


def test_report_without_original_scans_outer() -> None:
    raw = report().split(b"--JR\r\nContent-Type: message/rfc822")[0] + b"--JR--\r\n"
    pm = parse(raw)
    assert Code.JOURNAL_REPORT_MALFORMED in {f.code for f in pm.findings}
    assert pm.envelope.journaled is False
    assert pm.raw == raw
    assert pm.header("x-ms-journal-report") == ""
    assert any("Sender: alice@ext.example" in b.text for b in pm.bodies)


def test_report_with_empty_envelope_falls_back_to_headers() -> None:
    pm = parse(report(envelope=b"nothing useful here"))
    assert pm.envelope.journaled is True
    assert Code.JOURNAL_REPORT_MALFORMED in {f.code for f in pm.findings}
    assert [r.address for r in pm.envelope.recipients] == ["list@corp.example"]


def test_no_journal_header_means_plain_message() -> None:
    raw = report().replace(b"X-MS-Journal-Report: \r\n", b"")
    pm = parse(raw)
    assert pm.envelope.journaled is False
    assert [r.address for r in pm.envelope.recipients] == ["journal-mailbox@corp.example"]
    assert any(a.content_type == "message/rfc822" for a in pm.attachments)
