"""Build test mail in code: plain phish and Exchange journal reports wrapping them."""

from __future__ import annotations

from email.utils import formatdate

PHISH_TEXT = ("Your mailbox password expires today. Verify your account now at "
              "https://login.corp-verify.test/owa/verify?u=1 or lose access.")


def phish(message_id: str = "<phish-1@evil.test>", to: str = "bob@corp.example",
          subject: str = "Password expiry notice", body: str = PHISH_TEXT,
          sender: str = '"IT Helpdesk" <helpdesk@evil.test>') -> bytes:
    return (
        f"From: {sender}\r\n"
        f"To: {to}\r\n"
        f"Subject: {subject}\r\n"
        f"Date: {formatdate(1_700_000_000)}\r\n"
        f"Message-ID: {message_id}\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"{body}\r\n"
    ).encode()


def journal_report(original: bytes, envelope_lines: list[str],
                   sender: str = "helpdesk@evil.test",
                   message_id: str = "<phish-1@evil.test>",
                   subject: str = "Password expiry notice") -> bytes:
    """Exchange journal report: envelope text part + the original as message/rfc822."""
    envelope = "\r\n".join([f"Sender: {sender}", f"Subject: {subject}",
                            f"Message-Id: {message_id}", *envelope_lines])
    return (
        "From: Microsoft Exchange <postmaster@corp.example>\r\n"
        "To: journal@archive.example\r\n"
        f"Subject: {subject}\r\n"
        "X-MS-Journal-Report:\r\n"
        f"Message-ID: <journal-{abs(hash(original))}@corp.example>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="JRNL"\r\n'
        "\r\n"
        "--JRNL\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        f"{envelope}\r\n"
        "--JRNL\r\n"
        "Content-Type: message/rfc822\r\n"
        "\r\n"
    ).encode() + original + b"\r\n--JRNL--\r\n"


THREE_RECIPIENTS = [
    "To: bob@corp.example",
    "Bcc: carol@corp.example",
    "To: dave@corp.example, Expanded: staff@corp.example",
]

RULE = r'''
rule PHISH_Test_PasswordExpiry {
  meta:
    id = "test-0001" description = "password expiry lure with a verify link"
    severity = "high" action = "remediate" status = "stable"
  strings:
    $s1 = "password expires" nocase
    $s2 = "verify your account" nocase
  condition:
    part_kind == "message" and all of them
}
'''
