"""Outcome rules the mailbox backends share: which requests are refused, how a move ends."""

from __future__ import annotations

import re

from service.collectors.base import MessageIdentity, Moved, QuarantineOutcome, RemovalResult


def refused(address: str, ident: MessageIdentity,
            plain_address: re.Pattern[str]) -> QuarantineOutcome | None:
    """SKIPPED when the mailbox is not a plain address or there is no Message-ID to find.

    Each backend passes its own pattern: what is safe in an EWS call is not safe in a
    Graph URL path.
    """
    if not plain_address.fullmatch(address):
        return QuarantineOutcome(RemovalResult.SKIPPED,
                                 reason=f"not a plain address: {address[:80]!r}")
    if not ident.message_id.strip():
        return QuarantineOutcome(RemovalResult.SKIPPED, reason="no Message-ID")
    return None


def after_move(moved: list[Moved], errors: list[str], prefix: str,
               sep: str = ", ") -> QuarantineOutcome:
    """One error fails the whole request, keeping what did move so that it can be restored."""
    if errors:
        return QuarantineOutcome(RemovalResult.FAILED, moved=tuple(moved),
                                 reason=prefix + sep.join(errors[:5]))
    if not moved:
        return QuarantineOutcome(RemovalResult.NOT_FOUND)
    return QuarantineOutcome(RemovalResult.REMOVED, moved=tuple(moved))
