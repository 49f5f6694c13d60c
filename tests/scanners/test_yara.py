"""YARA scanner: parts, externals, meta, attribution; one call per message + attachment."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.config import Limits
from service.model import Action, Code, Severity
from service.rules import RuleLibrary
from service.scanners import yara as yara_scanner
from service.scanners.base import ScanContext
from tests.factories import attachment, message

RULES = r'''
rule BODY_Wording {
  meta:
    id = "t-1" description = "wording in a body" severity = "high" action = "remediate"
    status = "stable"
  strings:
    $s = "verify your account" nocase
  condition:
    part_kind == "message" and $s
}
rule ATT_Html_Script {
  meta:
    id = "t-2" description = "html attachment with script" severity = "medium"
    action = "alert" status = "stable"
  strings:
    $s = "<script" nocase
  condition:
    part_kind == "attachment" and extension == "html" and $s
}
rule HDR_Brand_Display {
  meta:
    id = "t-3" description = "brand display name off-domain" severity = "low"
    action = "alert" status = "test"
  condition:
    display_name contains "microsoft" and not (sender_domain == "microsoft.com")
}
'''


@pytest.fixture
def ctx(tmp_path: Path) -> ScanContext:
    (tmp_path / "pack.yar").write_text(RULES)
    lib = RuleLibrary(tmp_path)
    lib.load()
    return ScanContext(limits=Limits(), rules=lib)


async def test_body_rule_names_the_part_and_carries_meta(ctx: ScanContext) -> None:
    msg = message(text="hi", html="<p>Please VERIFY your account now</p>")
    findings = await yara_scanner.scan(msg, yara_scanner.Options(), ctx)
    [f] = [f for f in findings if f.rule == "BODY_Wording"]
    assert f.code is Code.RULE_MATCH
    assert f.part == "1.2"  # the HTML body, not the headers or the text part
    assert (f.severity, f.action, f.rule_id, f.status) == (
        Severity.HIGH, Action.REMEDIATE, "t-1", "stable")
    assert f.evidence and "VERIFY your account" in f.evidence[0]


async def test_attachment_rule_uses_filename_externals(ctx: ScanContext) -> None:
    html = attachment(b"<html><script>atob('x')</script>", filename="Invoice.HTML",
                      part_id="3")
    txt = attachment(b"<script>", filename="notes.txt", part_id="4")
    msg = message(attachments=(html, txt))
    findings = await yara_scanner.scan(msg, yara_scanner.Options(), ctx)
    hits = {(f.rule, f.part) for f in findings}
    assert ("ATT_Html_Script", "3") in hits
    assert ("ATT_Html_Script", "4") not in hits
    # a message-kind rule never runs against attachment bytes
    assert not any(f.rule == "BODY_Wording" for f in findings)


async def test_attachments_can_be_switched_off(ctx: ScanContext) -> None:
    msg = message(attachments=(attachment(b"<script>", filename="a.html"),))
    findings = await yara_scanner.scan(msg, yara_scanner.Options(scan_attachments=False), ctx)
    assert findings == []


async def test_header_externals(ctx: ScanContext) -> None:
    spoof = message(from_display="Microsoft Account Team", from_address="x@evil.example")
    real = message(from_display="Microsoft Account Team", from_address="x@microsoft.com")
    opts = yara_scanner.Options()
    assert any(f.rule == "HDR_Brand_Display" for f in await yara_scanner.scan(spoof, opts, ctx))
    assert not any(f.rule == "HDR_Brand_Display"
                   for f in await yara_scanner.scan(real, opts, ctx))


def test_message_buffer_maps_offsets_to_parts() -> None:
    msg = message(text="first body", html="<b>second</b>")
    buf = yara_scanner.message_buffer(msg)
    assert buf.part_at(0) == "headers"
    assert buf.part_at(buf.data.index(b"first body")) == "1"
    assert buf.part_at(buf.data.index(b"second")) == "1.2"


def test_sender_and_reply_to_externals() -> None:
    msg = message(from_address="office@company.example", headers=(
        ("Reply-To", '"Someone" <someone.private@gmail.com>, other@x.example'),))
    ext = yara_scanner.base_externals(msg)
    assert (ext["sender_freemail"], ext["reply_to_domain"], ext["reply_to_freemail"]) == (
        False, "gmail.com", True)
    assert ext["body_chars"] == len("hello")
    free = yara_scanner.base_externals(message(from_address="a.b@outlook.com"))
    assert (free["sender_freemail"], free["reply_to_domain"], free["reply_to_freemail"]) == (
        True, "", False)


def test_hostile_reply_to_gives_no_domain_not_an_error() -> None:
    for value in ("", "not an address", "<>" * 5000, '"\\' * 3000, "@@@"):
        msg = message(headers=(("Reply-To", value),))
        assert yara_scanner.base_externals(msg)["reply_to_domain"] == ""


async def test_rules_can_key_on_free_mail_externals(tmp_path: Path) -> None:
    (tmp_path / "r.yar").write_text(r'''
rule FREEMAIL_ReplyTo {
  meta: id = "t-9" severity = "medium" status = "stable"
  condition: part_kind == "message" and reply_to_freemail
             and reply_to_domain != sender_domain and not sender_freemail
}''')
    lib = RuleLibrary(tmp_path)
    lib.load()
    ctx = ScanContext(limits=Limits(), rules=lib)
    hijacked = message(from_address="x@company.example",
                       headers=(("Reply-To", "y@gmail.com"),))
    self_reply = message(from_address="x@gmail.com", headers=(("Reply-To", "y@gmail.com"),))
    opts = yara_scanner.Options()
    assert [f.rule for f in await yara_scanner.scan(hijacked, opts, ctx)] == ["FREEMAIL_ReplyTo"]
    assert await yara_scanner.scan(self_reply, opts, ctx) == []
