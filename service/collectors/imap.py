"""IMAP: the journal collector and the mailbox (remediation) backend, under one import."""

from __future__ import annotations

from service.collectors.imap_common import ImapEndpoint, ImapError, TlsMode
from service.collectors.imap_journal import ImapJournalCollector, parse_checkpoint
from service.collectors.imap_mailbox import ImapMailboxBackend

__all__ = [
    "ImapEndpoint",
    "ImapError",
    "ImapJournalCollector",
    "ImapMailboxBackend",
    "TlsMode",
    "parse_checkpoint",
]
