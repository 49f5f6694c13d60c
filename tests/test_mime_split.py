"""service.mime's own splitter: shapes the stdlib parser handled differently or not at all."""

from __future__ import annotations

import base64
import hashlib
import time

from service.mime import parse
from service.mime_headers import params, split_entity
from service.model import Code, PartKind

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40


def test_raw_utf8_headers_are_read_as_utf8() -> None:
    raw = ("From: Grüße 📱 <news@ext.example>\r\nSubject: Prognose für 😍\r\n"
           "To: a@corp.example\r\n\r\nhi\r\n").encode()
    pm = parse(raw)
    assert pm.subject == "Prognose für 😍"
    assert pm.from_display == "Grüße 📱"
    assert pm.from_address == "news@ext.example"


def test_lf_only_nested_multipart_with_regex_special_boundaries() -> None:
    raw = (b"From: a@ext.example\nContent-Type: multipart/mixed; boundary=\"(a+)?.*[b]\"\n\n"
           b"preamble\n--(a+)?.*[b]\n"
           b"Content-Type: multipart/alternative; boundary=\"$x|y^\"\n\n"
           b"--$x|y^\nContent-Type: text/plain\n\nplain text\n"
           b"--$x|y^\nContent-Type: text/html\n\n<p>html</p>\n--$x|y^--\n"
           b"--(a+)?.*[b]\nContent-Type: image/png; name=p.png\n"
           b"Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(PNG)
           + b"--(a+)?.*[b]--\nepilogue\n")
    pm = parse(raw)
    assert [(b.part_id, b.kind, b.text) for b in pm.bodies] == [
        ("1.1", PartKind.TEXT, "plain text"), ("1.2", PartKind.HTML, "<p>html</p>")]
    (att,) = pm.attachments
    assert (att.part_id, att.filename, att.data) == ("2", "p.png", PNG)
    assert pm.findings == ()


def test_longer_token_is_not_a_delimiter_and_missing_close_is_a_defect() -> None:
    raw = (b"Content-Type: multipart/mixed; boundary=b1\r\n\r\n"
           b"--b1\r\nContent-Type: text/plain\r\n\r\nfirst\r\n--b10 not a delimiter\r\n"
           b"--b1\r\nContent-Type: text/plain\r\n\r\nsecond, never closed\r\n")
    pm = parse(raw)
    assert [b.text for b in pm.bodies] == ["first\r\n--b10 not a delimiter",
                                           "second, never closed\r\n"]
    (defect,) = [f for f in pm.findings if f.code is Code.MIME_DEFECT]
    assert defect.evidence == ("CloseBoundaryNotFoundDefect",)


def test_unterminated_quoted_boundary_still_splits() -> None:
    raw = (b"Content-Type: multipart/mixed;boundary=\"--_=_swift-X_=_\r\n\r\n"
           b"----_=_swift-X_=_\r\nContent-Type: text/html\r\n\r\n<b>x</b>\r\n"
           b"----_=_swift-X_=_--\r\n")
    assert [b.text for b in parse(raw).bodies] == ["<b>x</b>"]


def test_rfc2231_continuations_and_charset() -> None:
    value = ("attachment; filename*0*=iso-8859-1''R%E9sum%E9%20;"
             " filename*1=\"final\"; filename*2*=%2Epdf; size=12")
    assert params(value) == {"filename": "Résumé final.pdf", "size": "12"}
    assert params('inline; filename="a \\"q\\".txt"') == {"filename": 'a "q".txt'}


def test_rfc822_attachment_keeps_bytes_as_sent_and_base64_is_decoded() -> None:
    inner = b"From: x@evil.example\nSubject: inner\n\nhttp://inner.example/\n"
    raw = (b"Content-Type: multipart/mixed; boundary=B\r\n\r\n"
           b"--B\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           + base64.encodebytes(inner) + b"--B--\r\n")
    pm = parse(raw)
    (eml,) = pm.attachments
    assert eml.data == inner and eml.sha256 == hashlib.sha256(inner).hexdigest()
    assert [(b.part_id, b.text) for b in pm.bodies] == [("1.1", "http://inner.example/\n")]


def test_broken_base64_is_decoded_leniently() -> None:
    good = base64.b64encode(PNG)
    for body in (good.rstrip(b"="), good[:10] + b"!*\x00" + good[10:], good + b"=junk"):
        raw = (b"Content-Type: image/png; name=p.png\r\nContent-Transfer-Encoding: base64\r\n"
               b"\r\n" + body)
        (att,) = parse(raw).attachments
        assert att.data.startswith(PNG[:40])


def test_header_section_ends_at_a_non_header_line() -> None:
    fields, body, no_separator = split_entity(b"Subject: s\r\n folded\r\nnot a header\r\nrest")
    assert fields.items == [("Subject", "s\r\n folded")]
    assert body == b"not a header\r\nrest" and no_separator


def test_many_tiny_parts_are_capped() -> None:
    parts = b"".join(b"--B\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(50_000))
    raw = b"Content-Type: multipart/mixed; boundary=B\r\n\r\n" + parts + b"--B--\r\n"
    started = time.perf_counter()
    pm = parse(raw)
    assert time.perf_counter() - started < 2.0
    assert len(pm.bodies) == 1000
    assert Code.TOO_MANY_ATTACHMENTS in {f.code for f in pm.findings}


def test_hostile_address_headers_stay_linear() -> None:
    values = ["a" + " " * 8000 + "b", "a" + " \t" * 4000 + "<", "a " * 4000 + "<x@y.example>"]
    raw = b"".join(b"To: " + v.encode() + b"\r\n" for v in values * 5) + b"\r\nhi\r\n"
    started = time.perf_counter()
    pm = parse(raw)
    assert time.perf_counter() - started < 0.5
    assert [r.address for r in pm.envelope.recipients] == ["x@y.example"]
