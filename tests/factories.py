"""Build model objects in tests without going through the parser."""

from __future__ import annotations

import hashlib

from service.model import (
    Attachment,
    BodyPart,
    Envelope,
    ParsedMessage,
    PartKind,
    Recipient,
    RecipientSource,
)


def attachment(data: bytes, filename: str | None = "file.bin",
               content_type: str = "application/octet-stream",
               sniffed: str | None = None, part_id: str = "2") -> Attachment:
    return Attachment(part_id=part_id, filename=filename, content_type=content_type,
                      sniffed_type=sniffed, size=len(data),
                      sha256=hashlib.sha256(data).hexdigest(), data=data)


def message(text: str = "hello", html: str | None = None,
            attachments: tuple[Attachment, ...] = (), subject: str = "Hi",
            from_address: str = "alice@ext.example", from_display: str | None = "Alice",
            headers: tuple[tuple[str, str], ...] = ()) -> ParsedMessage:
    bodies = [BodyPart("1", PartKind.TEXT, "text/plain", "utf-8", text)]
    if html is not None:
        bodies.append(BodyPart("1.2", PartKind.HTML, "text/html", "utf-8", html))
    all_headers = (("From", f"{from_display} <{from_address}>"), ("Subject", subject),
                   ("Message-ID", "<m1@ext.example>"), *headers)
    block = "".join(f"{k}: {v}\r\n" for k, v in all_headers).encode()
    return ParsedMessage(
        raw=block + b"\r\n" + text.encode(),
        header_block=block,
        headers=all_headers,
        envelope=Envelope(sender=from_address,
                          recipients=(Recipient("bob@corp.example", RecipientSource.TO),),
                          message_id="<m1@ext.example>", subject=subject, journaled=False),
        message_id="<m1@ext.example>",
        subject=subject,
        from_address=from_address,
        from_display=from_display,
        date=None,
        bodies=tuple(bodies),
        attachments=attachments,
        urls=(),
    )
