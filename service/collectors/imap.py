"""IMAP: the journal collector and the mailbox (remediation) backend, under one import."""

from __future__ import annotations

from service.collectors.imap_common import ImapEndpoint, ImapError, TlsMode
from service.collectors.imap_journal import ImapJournalCollector, parse_checkpoint

__all__ = [
    "ImapEndpoint",
    "ImapError",
    "ImapJournalCollector",
    "TlsMode",
    "parse_checkpoint",
]
