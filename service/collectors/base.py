"""The two seams to a mail system: journal intake, and per-mailbox quarantine/restore.

Collectors own protocol code only; the policy (who, when, how many) lives in
service/actions/remediate.py.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from service.state.base import QueueItem

# A collector hands each journal message to this and awaits it; when it returns the
# message is durable and the collector may move its checkpoint.
Enqueue = Callable[[QueueItem], Awaitable[str]]


@runtime_checkable
class JournalCollector(Protocol):
    name: str

    async def run(self, enqueue: Enqueue, stop: asyncio.Event) -> None:
        """Feed every new journal message to enqueue until stop is set.

        Reconnects on its own; returns only when stop is set. The checkpoint moves
        after enqueue returns, never before: a crash may replay, never skip.
        """
        ...

    async def check(self) -> None:
        """Connect once and raise a clear error if anything is wrong (trawler check)."""
        ...


@dataclass(frozen=True, slots=True)
class MessageIdentity:
    """What a mailbox copy must match before it is touched.

    Message-ID alone can be forged in a journal report; From, Subject and Date must
    agree too so that a crafted report cannot pull legitimate mail.
    """

    message_id: str
    from_header: str | None
    subject: str | None
    date: str | None


class RemovalResult(enum.StrEnum):
    REMOVED = "removed"
    NOT_FOUND = "not_found"
    FAILED = "failed"
    SHADOW = "shadow"  # shadow mode: found, would have been removed
    SKIPPED = "skipped"  # outside organisation domains, or remediation off


class RestoreResult(enum.StrEnum):
    RESTORED = "restored"
    NOT_FOUND = "not_found"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Moved:
    """One copy moved to quarantine: enough to put it back exactly."""

    original_folder: str
    quarantine_folder: str
    new_ref: str  # backend's handle in quarantine: IMAP UID, maildir file name, item id

    def to_json(self) -> dict[str, Any]:
        return {
            "original_folder": self.original_folder,
            "quarantine_folder": self.quarantine_folder,
            "new_ref": self.new_ref,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Moved:
        return cls(
            original_folder=str(data["original_folder"]),
            quarantine_folder=str(data["quarantine_folder"]),
            new_ref=str(data["new_ref"]),
        )


@dataclass(frozen=True, slots=True)
class QuarantineOutcome:
    result: RemovalResult
    moved: tuple[Moved, ...] = ()
    reason: str | None = None  # for FAILED: what went wrong, no secrets


@runtime_checkable
class MailboxBackend(Protocol):
    name: str  # "imap", "maildir", "ews", "graph": the metrics' backend label

    async def quarantine(
        self, mailbox: str, ident: MessageIdentity, *, dry_run: bool = False
    ) -> QuarantineOutcome:
        """Move every matching copy in every folder of mailbox into quarantine.

        Idempotent: a copy already in quarantine counts as removed, not moved again.
        With dry_run, find and confirm but move nothing (result SHADOW when found).
        """
        ...

    async def restore(self, mailbox: str, moved: Moved) -> RestoreResult:
        """Move one quarantined copy back to its original folder."""
        ...

    async def check(self) -> None: ...

    async def close(self) -> None: ...
