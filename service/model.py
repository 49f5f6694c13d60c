"""The data that flows through Trawler: envelope, parsed message, findings, verdict.

Everything here is a frozen dataclass so a scanner cannot change what another scanner
sees, and everything serialises to plain JSON (never pickle: the input is hostile).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Severity(enum.StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    @classmethod
    def parse(cls, value: object, default: Severity | None = None) -> Severity:
        """Rule meta is hand-written: accept any case, fall back when given a default."""
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            if default is not None:
                return default
            raise


_SEVERITY_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


class Action(enum.StrEnum):
    NONE = "none"
    ALERT = "alert"
    REMEDIATE = "remediate"

    @property
    def rank(self) -> int:
        return _ACTION_RANK[self]


_ACTION_RANK = {Action.NONE: 0, Action.ALERT: 1, Action.REMEDIATE: 2}


class VerdictLabel(enum.StrEnum):
    CLEAN = "clean"
    SUSPICIOUS = "suspicious"
    MALICIOUS = "malicious"


class Code(enum.StrEnum):
    """The closed set of finding codes. Add here; never invent one in a scanner."""

    # yara
    RULE_MATCH = "rule_match"
    # parser defects and limits
    MIME_DEFECT = "mime_defect"
    MIME_TOO_DEEP = "mime_too_deep"
    TOO_MANY_ATTACHMENTS = "too_many_attachments"
    PART_TOO_LARGE = "part_too_large"
    MESSAGE_TOO_LARGE = "message_too_large"
    JOURNAL_REPORT_MALFORMED = "journal_report_malformed"
    # dispatcher
    SCANNER_ERROR = "scanner_error"
    SCANNER_TIMEOUT = "scanner_timeout"
    DEADLINE_EXCEEDED = "deadline_exceeded"
    # archives
    ARCHIVE_BOMB = "archive_bomb"
    ARCHIVE_TOO_DEEP = "archive_too_deep"
    ARCHIVE_TOO_MANY_ENTRIES = "archive_too_many_entries"
    ARCHIVE_CORRUPT = "archive_corrupt"
    # attachments, archives, encrypted documents
    ATTACHMENT_TYPE_MISMATCH = "attachment_type_mismatch"
    DOUBLE_EXTENSION = "double_extension"
    DANGEROUS_ATTACHMENT = "dangerous_attachment"
    ENCRYPTED_ATTACHMENT = "encrypted_attachment"
    DECRYPTED_ATTACHMENT = "decrypted_attachment"
    # office
    OFFICE_MACRO = "office_macro"
    OFFICE_MACRO_AUTOEXEC = "office_macro_autoexec"
    OFFICE_MACRO_SUSPICIOUS = "office_macro_suspicious"
    OFFICE_EXTERNAL_TEMPLATE = "office_external_template"
    OFFICE_EXTERNAL_RELATIONSHIP = "office_external_relationship"
    OFFICE_DDE = "office_dde"
    # pdf
    PDF_JAVASCRIPT = "pdf_javascript"
    PDF_OPEN_ACTION = "pdf_open_action"
    PDF_LAUNCH = "pdf_launch"
    PDF_EMBEDDED_FILE = "pdf_embedded_file"
    PDF_URI = "pdf_uri"
    # headers / sender
    INVALID_ADDRESS = "invalid_address"
    SPF_FAIL = "spf_fail"
    DKIM_FAIL = "dkim_fail"
    DMARC_FAIL = "dmarc_fail"
    DISPLAY_NAME_VIP = "display_name_vip"
    DISPLAY_NAME_BRAND = "display_name_brand"
    REPLY_TO_MISMATCH = "reply_to_mismatch"
    REPLY_TO_FREEMAIL = "reply_to_freemail"
    SENDER_LOOKALIKE = "sender_lookalike"
    FIRST_TIME_SENDER = "first_time_sender"
    SENDER_FREEMAIL = "sender_freemail"  # INFO fact; service/corroborate.py pairs it
    # indicators
    INDICATOR_MATCH = "indicator_match"
    # urls
    IP_LITERAL_HOST = "ip_literal_host"
    LOOKALIKE_DOMAIN = "lookalike_domain"
    LINK_TEXT_MISMATCH = "link_text_mismatch"
    DATA_URI = "data_uri"
    URL_SHORTENER = "url_shortener"
    FREE_HOSTING = "free_hosting"
    FILE_SHARING = "file_sharing"
    LOGIN_PATH = "login_path"
    QR_CODE_URL = "qr_code_url"
    # verdict policy (service/corroborate.py)
    CORROBORATED = "corroborated"


class RecipientSource(enum.StrEnum):
    """How a mailbox came to hold a copy: analysts need this, and Bcc is invisible otherwise."""

    TO = "to"
    CC = "cc"
    BCC = "bcc"
    EXPANDED = "expanded"
    FORWARDED = "forwarded"
    RECIPIENT = "recipient"
    DELIVERED_TO = "delivered_to"
    ORIGINAL_TO = "original_to"


@dataclass(frozen=True, slots=True)
class Recipient:
    address: str
    source: RecipientSource
    via: str | None = None  # the list or alias the copy came through

    def to_json(self) -> dict[str, Any]:
        return {"address": self.address, "source": self.source.value, "via": self.via}


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who sent and who got a copy; from the journal report when there is one."""

    sender: str | None
    recipients: tuple[Recipient, ...]
    message_id: str | None
    subject: str | None
    journaled: bool

    @property
    def addresses(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for r in self.recipients:
            seen.setdefault(r.address.lower(), None)
        return tuple(seen)


class PartKind(enum.StrEnum):
    HEADERS = "headers"
    TEXT = "text"
    HTML = "html"
    ATTACHMENT = "attachment"


@dataclass(frozen=True, slots=True)
class BodyPart:
    """A decoded text or HTML body: what the reader sees."""

    part_id: str  # MIME path such as "1.2"
    kind: PartKind
    content_type: str
    charset: str
    text: str


@dataclass(frozen=True, slots=True)
class Attachment:
    part_id: str
    filename: str | None
    content_type: str  # declared
    sniffed_type: str | None  # from magic bytes; wins over the declared type
    size: int
    sha256: str
    data: bytes = field(repr=False)
    depth: int = 0  # nesting depth: 0 for a direct part, +1 per message/archive layer
    parent: str | None = None  # archive member: the container's part_id

    @property
    def effective_type(self) -> str:
        return self.sniffed_type or self.content_type

    def to_json(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "sha256": self.sha256,
            "content_type": self.effective_type,
            "declared_content_type": self.content_type,
            "size": self.size,
            "part_id": self.part_id,
            **({"parent": self.parent, "depth": self.depth} if self.parent else {}),
        }


@dataclass(frozen=True, slots=True)
class Url:
    url: str  # normalized and unwrapped
    original: str
    source: str  # part_id it came from
    # A link protector that keeps the destination server-side (Mimecast /s/ tokens):
    # `url` is then the protector's URL, since nothing is fetched to resolve it.
    wrapped_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"url": self.url, "original": self.original, "source": self.source}
        if self.wrapped_by:
            out["wrapped_by"] = self.wrapped_by
        return out


@dataclass(frozen=True, slots=True)
class Finding:
    scanner: str
    code: Code
    severity: Severity
    rule: str | None = None
    description: str | None = None
    part: str | None = None  # part_id (or "headers") that matched
    action: Action | None = None  # what the rule asks for; config may cap it
    rule_id: str | None = None
    status: str | None = None  # rule status: stable | test | nursery
    evidence: tuple[str, ...] = ()  # bounded: see bounded_evidence()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "scanner": self.scanner,
            "code": self.code.value,
            "severity": self.severity.value,
        }
        for key in ("rule", "description", "part", "rule_id", "status"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.action is not None:
            out["action"] = self.action.value
        if self.evidence:
            out["evidence"] = list(self.evidence)
        return out


EVIDENCE_ITEMS = 8
EVIDENCE_CHARS = 200


def bounded_evidence(items: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Evidence is for a human glance: a few short strings, never the payload."""
    return tuple(s[:EVIDENCE_CHARS] for s in items[:EVIDENCE_ITEMS])


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """One message, parsed once. Every scanner reads this and nothing else."""

    raw: bytes = field(repr=False)  # the scanned original (unwrapped from a journal report)
    header_block: bytes = field(repr=False)  # raw header bytes, for header rules
    headers: tuple[tuple[str, str], ...]  # decoded (name, value), in order
    envelope: Envelope
    message_id: str | None
    subject: str
    from_address: str | None
    from_display: str | None
    date: str | None
    bodies: tuple[BodyPart, ...]
    attachments: tuple[Attachment, ...]
    urls: tuple[Url, ...]
    findings: tuple[Finding, ...] = ()  # defects and limits hit while parsing

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    def header_all(self, name: str) -> list[str]:
        lname = name.lower()
        return [v for k, v in self.headers if k.lower() == lname]

    @property
    def sender_domain(self) -> str:
        addr = self.from_address or ""
        return addr.rpartition("@")[2].lower()


@dataclass(frozen=True, slots=True)
class Verdict:
    message_id: str | None
    verdict: VerdictLabel
    action: Action
    severity: Severity | None
    findings: tuple[Finding, ...]
    elapsed_ms: float

    @property
    def flagged(self) -> bool:
        return self.verdict is not VerdictLabel.CLEAN
