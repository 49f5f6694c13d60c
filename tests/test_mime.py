"""service.mime: bodies, attachments, headers, recipients, nesting and limits."""

from __future__ import annotations

import base64
import hashlib
import os
import time

from service.config import Limits
from service.mime import parse
from service.model import Code, PartKind, RecipientSource, Severity


def _codes(pm: object) -> set[Code]:
    return {f.code for f in pm.findings}  # type: ignore[attr-defined]


def _multipart(*parts: bytes, boundary: bytes = b"BOUND", head: bytes = b"") -> bytes:
    out = [b"From: Alice <alice@ext.example>\r\nTo: bob@corp.example\r\n", head,
           b"Subject: test\r\nMIME-Version: 1.0\r\n",
           b"Content-Type: multipart/mixed; boundary=\"" + boundary + b"\"\r\n\r\n"]
    for p in parts:
        out += [b"--" + boundary + b"\r\n", p, b"\r\n"]
    out.append(b"--" + boundary + b"--\r\n")
    return b"".join(out)


PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n" + b"x" * 100


def test_plain_message_fields_and_recipients() -> None:
    raw = (b"From MAILER-DAEMON Thu Aug 22 12:36:23 2002\n"
           b"Return-Path: <bounce@ext.example>\n"
           b"Delivered-To: Dave@Corp.Example\n"
           b"X-Original-To: erin@corp.example\n"
           b"From: \"Alice A.\" <Alice@Ext.Example>\n"
           b"To: Bob <BOB@corp.example>, carol@corp.example\n"
           b"Cc: bob@corp.example, frank@corp.example\n"
           b"Message-ID:  <abc@ext.example> \n"
           b"Date: Thu, 22 Aug 2002 12:36:23 +0000\n"
           b"Subject: hello\n\n"
           b"see https://Example.COM/Path?q=1 now\n")
    pm = parse(raw)
    assert pm.raw == raw
    assert pm.header_block.startswith(b"Return-Path:")
    assert pm.header_block.endswith(b"hello\n\n")
    assert pm.message_id == "<abc@ext.example>"
    assert pm.from_address == "alice@ext.example"
    assert pm.from_display == "Alice A."
    assert pm.date == "Thu, 22 Aug 2002 12:36:23 +0000"
    assert [(r.address, r.source) for r in pm.envelope.recipients] == [
        ("bob@corp.example", RecipientSource.TO),
        ("carol@corp.example", RecipientSource.TO),
        ("frank@corp.example", RecipientSource.CC),
        ("dave@corp.example", RecipientSource.DELIVERED_TO),
        ("erin@corp.example", RecipientSource.ORIGINAL_TO),
    ]
    assert pm.envelope.sender == "alice@ext.example"
    assert pm.envelope.journaled is False
    assert [b.kind for b in pm.bodies] == [PartKind.TEXT]
    assert pm.bodies[0].part_id == "1"
    assert [u.url for u in pm.urls] == ["https://example.com/Path?q=1"]
    assert pm.urls[0].original == "https://Example.COM/Path?q=1"
    assert pm.findings == ()


def test_sender_falls_back_to_return_path() -> None:
    pm = parse(b"Return-Path: <Bounce@ext.example>\r\nTo: a@corp.example\r\n\r\nhi\r\n")
    assert pm.envelope.sender == "bounce@ext.example"
    assert pm.from_address is None


def test_rfc2047_subject_display_name_and_filename() -> None:
    raw = _multipart(
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nbody",
        b"Content-Type: application/pdf\r\n"
        b"Content-Disposition: attachment; filename=\"=?utf-8?B?UmVjaG51bmcucGRm?=\"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(PDF),
        b"Content-Type: application/octet-stream\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''%C3%BCber%202231.doc\r\n\r\nx",
        head=b"Subject: =?utf-8?Q?Gr=C3=BC=C3=9Fe?=\r\n =?iso-8859-1?B?4g==?=\r\n",
    ).replace(b"From: Alice", b"From: =?utf-8?B?w4RsaWNl?=")
    pm = parse(raw)
    assert pm.subject == "Grüßeâ"
    assert pm.from_display == "Älice"
    assert [a.filename for a in pm.attachments] == ["Rechnung.pdf", "über 2231.doc"]
    assert pm.header("subject") == "Grüßeâ"


def test_attachment_fields_and_magic_wins() -> None:
    raw = _multipart(
        b"Content-Type: text/html; charset=utf-8\r\n\r\n"
        b"<a href=\"https://evil.example/a?x=1&amp;y=2\">click</a>",
        b"Content-Type: image/png; name=\"scan.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(PDF),
    )
    pm = parse(raw)
    assert [b.kind for b in pm.bodies] == [PartKind.HTML]
    assert [u.url for u in pm.urls] == ["https://evil.example/a?x=1&y=2"]
    (att,) = pm.attachments
    assert att.part_id == "2"
    assert att.filename == "scan.png"
    assert att.content_type == "image/png"
    assert att.sniffed_type == "application/pdf"
    assert att.effective_type == "application/pdf"
    assert att.data == PDF
    assert att.size == len(PDF)
    assert att.sha256 == hashlib.sha256(PDF).hexdigest()
    assert att.depth == 0


def test_text_with_filename_is_an_attachment() -> None:
    raw = _multipart(b"Content-Type: text/html\r\nContent-Disposition: attachment;"
                     b" filename=invoice.html\r\n\r\n<html><form action=x></form></html>")
    pm = parse(raw)
    assert pm.bodies == ()
    assert pm.attachments[0].filename == "invoice.html"
    assert pm.attachments[0].sniffed_type == "text/html"


def test_charset_garbage_never_raises() -> None:
    raw = _multipart(
        b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\ncaf\xc3\xa9",
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nbad \xff\xfe bytes",
        b"Content-Type: text/plain; charset=zlib\r\n\r\nplain",
        b"Content-Type: text/plain; charset=punycode\r\n\r\n" + b"a-" * 50_000,
        b"Content-Type: text/plain\r\n\r\nlatin \xe9t\xe9",
        head=b"Subject: =?x-bogus?Q?abc?= \xff\xfe raw\r\n",
    )
    started = time.perf_counter()
    pm = parse(raw)
    assert time.perf_counter() - started < 1.0
    texts = [b.text for b in pm.bodies]
    assert texts[0] == "café"
    assert texts[1] == "bad \ufffd\ufffd bytes"
    assert texts[2] == "plain"
    assert texts[4] == "latin été"
    assert pm.bodies[4].charset == "latin-1"
    assert "raw" in pm.subject


def test_nested_rfc822_parts_and_attachment() -> None:
    inner = (b"From: mallory@evil.example\r\nSubject: inner\r\n"
             b"Content-Type: multipart/mixed; boundary=IN\r\n\r\n"
             b"--IN\r\nContent-Type: text/plain\r\n\r\nhttp://inner.example/x\r\n"
             b"--IN\r\nContent-Type: application/zip; name=a.zip\r\n\r\nPK\x03\x04rest\r\n"
             b"--IN--\r\n")
    raw = _multipart(b"Content-Type: text/plain\r\n\r\nouter",
                     b"Content-Type: message/rfc822\r\n\r\n" + inner)
    pm = parse(raw)
    assert [b.part_id for b in pm.bodies] == ["1", "2.1"]
    by_id = {a.part_id: a for a in pm.attachments}
    assert by_id["2"].filename == "attached.eml"
    assert by_id["2"].content_type == "message/rfc822"
    assert b"Subject: inner" in by_id["2"].data
    assert by_id["2.2"].filename == "a.zip"
    assert by_id["2.2"].depth == 1
    assert by_id["2.2"].sniffed_type == "application/zip"
    assert pm.subject == "test"
    assert [u.source for u in pm.urls] == ["2.1"]


def _nested_rfc822(levels: int) -> bytes:
    msg = b"Subject: bottom\r\n\r\nbottom\r\n"
    for _ in range(levels):
        msg = b"Content-Type: message/rfc822\r\nSubject: layer\r\n\r\n" + msg
    return b"From: x@ext.example\r\n" + msg


def _nested_multipart(levels: int) -> bytes:
    msg = b"Content-Type: text/plain\r\n\r\nbottom\r\n"
    for i in range(levels):
        b = b"b%d" % i
        msg = (b"Content-Type: multipart/mixed; boundary=" + b + b"\r\n\r\n--" + b + b"\r\n"
               + msg + b"\r\n--" + b + b"--\r\n")
    return b"From: x@ext.example\r\n" + msg


def test_deep_nesting_is_cut_fast() -> None:
    for raw in (_nested_rfc822(200), _nested_multipart(200), _nested_rfc822(3000),
                _nested_multipart(3000)):
        started = time.perf_counter()
        pm = parse(raw)
        assert time.perf_counter() - started < 2.0
        deep = [f for f in pm.findings if f.code is Code.MIME_TOO_DEEP]
        assert len(deep) == 1
        assert deep[0].severity is Severity.MEDIUM


def test_rfc822_depth_follows_limit() -> None:
    pm = parse(_nested_rfc822(5), Limits(max_depth=3))
    assert Code.MIME_TOO_DEEP in _codes(pm)
    assert max(a.depth for a in pm.attachments) == 3
    assert Code.MIME_TOO_DEEP not in _codes(parse(_nested_rfc822(3), Limits(max_depth=3)))


def test_50mb_attachment_is_not_decoded() -> None:
    blob = b"MZ" + os.urandom(50 * 1024 * 1024)
    raw = _multipart(b"Content-Type: text/plain\r\n\r\nsee attached",
                     b"Content-Type: application/octet-stream; name=big.exe\r\n"
                     b"Content-Transfer-Encoding: base64\r\n\r\n"
                     + base64.encodebytes(blob).replace(b"\n", b"\r\n"))
    started = time.perf_counter()
    pm = parse(raw)
    assert time.perf_counter() - started < 3.0
    big = [f for f in pm.findings if f.code is Code.PART_TOO_LARGE]
    assert len(big) == 1 and big[0].severity is Severity.LOW and big[0].part == "2"
    assert Code.MESSAGE_TOO_LARGE in _codes(pm)  # 67 MB encoded is over the 64 MB default
    (att,) = pm.attachments
    assert (att.filename, att.data, att.sha256) == ("big.exe", b"", "")
    assert att.sniffed_type == "application/x-msdownload"
    assert att.size > 40 * 1024 * 1024
    assert pm.bodies[0].text == "see attached"
    assert all(not k.startswith("X-Trawler") for k, _ in pm.headers)


def test_part_and_message_limits_are_configurable() -> None:
    raw = _multipart(b"Content-Type: application/pdf; name=a.pdf\r\n\r\n" + PDF * 100)
    pm = parse(raw, Limits(max_part_bytes=1000))
    assert Code.PART_TOO_LARGE in _codes(pm)
    assert pm.attachments[0].sniffed_type == "application/pdf"
    pm = parse(raw, Limits(max_message_bytes=300))
    assert Code.MESSAGE_TOO_LARGE in _codes(pm)
    assert pm.raw == raw


def test_too_many_attachments_keeps_first_n() -> None:
    parts = [b"Content-Type: application/octet-stream; name=f%d.bin\r\n\r\n%d" % (i, i)
             for i in range(30)]
    pm = parse(_multipart(*parts), Limits(max_attachments=10))
    assert [a.filename for a in pm.attachments] == [f"f{i}.bin" for i in range(10)]
    (too_many,) = [f for f in pm.findings if f.code is Code.TOO_MANY_ATTACHMENTS]
    assert too_many.severity is Severity.MEDIUM


def test_content_type_swallowing_html_is_fast() -> None:
    # A real phish shape: the HTML body was folded into the Content-Type header.
    lines = [b' <td style="color:#000;font:12px \'Arial\';">&nbsp;;&quot;x;"y";</td>'] * 20_000
    raw = (b"From: a@ext.example\r\nTo: b@corp.example\r\nSubject: s\r\n"
           b"Content-Type: text/html; charset=\"utf-8\"\r\n"
           b' <html><a href="https://phish.example/login">x</a>\r\n'
           + b"\r\n".join(lines) + b"\r\n\r\n")
    for ctype in (b"text/html", b"multipart/alternative; boundary=zz"):
        started = time.perf_counter()
        pm = parse(raw.replace(b"text/html; charset", ctype + b"; charset"))
        assert time.perf_counter() - started < 0.5
        assert Code.MIME_DEFECT in _codes(pm)
        assert "https://phish.example/login" in [u.url for u in pm.urls]
        assert all(f.severity is Severity.INFO for f in pm.findings)


def test_defects_are_info_findings_with_bounded_evidence() -> None:
    raw = (b"From: a@ext.example\r\nContent-Type: multipart/mixed; boundary=NOPE\r\n\r\n"
           b"--OTHER\r\nContent-Type: text/plain\r\n\r\nhi\r\n")
    pm = parse(raw)
    defects = [f for f in pm.findings if f.code is Code.MIME_DEFECT]
    assert defects and all(f.severity is Severity.INFO and f.scanner == "mime" for f in defects)
    assert all(len(e) <= 200 for f in defects for e in f.evidence)


def test_empty_and_headerless_input() -> None:
    for raw in (b"", b"\r\n\r\nbody only", b"no colon line\r\n\r\n", b"From x\n", b"\x00" * 100):
        pm = parse(raw)
        assert pm.raw == raw
        assert isinstance(pm.subject, str)


def test_journal_header_on_plain_message_is_malformed() -> None:
    raw = b"X-MS-Journal-Report:\r\nFrom: a@ext.example\r\nTo: b@corp.example\r\n\r\nhi\r\n"
    pm = parse(raw)
    (malformed,) = [f for f in pm.findings if f.code is Code.JOURNAL_REPORT_MALFORMED]
    assert malformed.severity is Severity.LOW
    assert pm.envelope.journaled is False
    assert pm.bodies[0].text == "hi\r\n"
    assert [r.address for r in pm.envelope.recipients] == ["b@corp.example"]
