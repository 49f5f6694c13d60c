"""Quarantine and restore in local Maildirs: mailbox <address> is the Maildir <root>/<address>/.

Folders follow Maildir++: the top of the maildir is the inbox, every subfolder is a
dot-prefixed directory inside it (".Sub", ".Sub.Child") with its own cur/new/tmp.

Moved records use paths relative to the mailbox directory, so they say exactly where a
copy was: original_folder is "cur" or "new" for the inbox and ".Sub/cur" or ".Sub/new"
for a subfolder; quarantine_folder is ".Quarantine/cur"; new_ref is the file name there.
The quarantined file name also carries its origin (ORIGIN_FIELD), so a second
quarantine of the same message can report where the copy came from, and restore puts
back the original file name.

Mailbox names come from journal reports, which are hostile input: a name that could
leave the root (/, .., NUL, a symlink out) is refused before any path is built.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from service.collectors.base import (
    MessageIdentity,
    Moved,
    QuarantineOutcome,
    RemovalResult,
    RestoreResult,
)
from service.collectors.mailbox_common import after_move
from service.collectors.maildir_fs import (
    MaildirError,
    ensure_maildir,
    move_no_clobber,
    read_header_block,
    split_info,
)
from service.collectors.maildir_match import HeaderMatcher

ORIGIN_FIELD = ",trawler-from="  # appended to the base name in quarantine
MAX_HEADER_BYTES = 256 * 1024
MAX_NAME_BYTES = 255
_ADDRESS_RE = re.compile(r"[^@\s/\\\x00-\x1f\x7f]+@[^@\s/\\\x00-\x1f\x7f]+")
_FOLDER_RE = re.compile(r"(?:\.[^/\x00]+/)?(?:cur|new)")


class _Refused(Exception):
    """The mailbox name or a Moved record would escape the root; never retried."""


@dataclass(frozen=True, slots=True)
class _Hit:
    rel_dir: str  # "cur", ".Sub/new", ".Quarantine/cur"
    name: str


class MaildirMailboxBackend:
    """MailboxBackend over local Maildirs."""

    name = "maildir"

    def __init__(
        self,
        root: str | os.PathLike[str],
        quarantine_folder: str = ".Quarantine",
        organisation_domains: tuple[str, ...] | list[str] = (),
        *,
        max_header_bytes: int = MAX_HEADER_BYTES,
    ) -> None:
        self.root = Path(root)
        # Config says "Quarantine" for every backend; in Maildir++ that is ".Quarantine".
        folder = quarantine_folder.strip()
        if not folder.startswith("."):
            folder = "." + folder
        if not _valid_folder_name(folder):
            raise ValueError(f"invalid Maildir++ quarantine folder name {quarantine_folder!r}")
        self.quarantine_folder = folder
        # Empty means every mailbox under root: the root itself is the boundary.
        self._domains = frozenset(d.strip().lower().lstrip("@") for d in organisation_domains)
        self._max_header_bytes = max_header_bytes

    async def check(self) -> None:
        await asyncio.to_thread(self._check)

    async def close(self) -> None:
        return None

    async def quarantine(
        self, mailbox: str, ident: MessageIdentity, *, dry_run: bool = False
    ) -> QuarantineOutcome:
        try:
            mbox = self._mailbox_dir(mailbox)
        except _Refused as exc:
            return QuarantineOutcome(RemovalResult.SKIPPED, reason=str(exc))
        return await asyncio.to_thread(self._quarantine, mbox, ident, dry_run)

    async def restore(self, mailbox: str, moved: Moved) -> RestoreResult:
        try:
            mbox = self._mailbox_dir(mailbox)
            _check_moved(moved)
        except _Refused:
            return RestoreResult.FAILED
        return await asyncio.to_thread(self._restore, mbox, moved)

    # -- blocking parts, run in a thread ------------------------------------------------

    def _check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MaildirError(f"cannot create mailbox root {self.root}: "
                               f"{exc.strerror or exc}") from None
        if not self.root.is_dir():
            raise MaildirError(f"mailbox root {self.root} is not a directory")
        if not os.access(self.root, os.R_OK | os.W_OK | os.X_OK):
            raise MaildirError(f"mailbox root {self.root} is not readable and writable")

    def _mailbox_dir(self, mailbox: str) -> Path:
        address = mailbox.strip()
        if not _ADDRESS_RE.fullmatch(address) or len(address.encode()) > MAX_NAME_BYTES:
            raise _Refused(f"mailbox name refused: not a plain address: {address[:80]!r}")
        if address.startswith(".") or ".." in address:
            raise _Refused(f"mailbox name refused: dots could leave the root: {address[:80]!r}")
        domain = address.rpartition("@")[2].lower()
        if self._domains and domain not in self._domains:
            raise _Refused(f"mailbox {address!r} is outside the organisation domains")
        for candidate in dict.fromkeys((address, address.lower())):
            path = self.root / candidate
            if os.path.lexists(path):
                return path
        return self.root / address

    def _inside_root(self, mbox: Path) -> bool:
        # A symlinked mailbox pointing elsewhere would let the root be left after all.
        real_root = os.path.realpath(self.root)
        return os.path.dirname(os.path.realpath(mbox)) == real_root

    def _quarantine(self, mbox: Path, ident: MessageIdentity, dry_run: bool) -> QuarantineOutcome:
        if not os.path.lexists(mbox):
            return QuarantineOutcome(RemovalResult.NOT_FOUND)
        if not mbox.is_dir() or not self._inside_root(mbox):
            return QuarantineOutcome(RemovalResult.FAILED,
                                     reason=f"mailbox {mbox.name!r} is not a maildir under root")
        matcher = HeaderMatcher(ident)
        q_cur = f"{self.quarantine_folder}/cur"
        # Folders first, quarantine second: a copy a concurrent run moves in between is
        # then seen in quarantine rather than missed in both places.
        hits = self._find(mbox, matcher, quarantine=False)
        already = self._already(mbox, matcher)
        if dry_run:
            if hits:
                would = tuple(Moved(h.rel_dir, q_cur, _quarantine_name(h.name, h.rel_dir))
                              for h in hits)
                return QuarantineOutcome(RemovalResult.SHADOW, moved=would)
            if already:
                return QuarantineOutcome(RemovalResult.REMOVED, moved=tuple(already))
            return QuarantineOutcome(RemovalResult.NOT_FOUND)
        if not hits:
            if already:
                return QuarantineOutcome(RemovalResult.REMOVED, moved=tuple(already))
            return QuarantineOutcome(RemovalResult.NOT_FOUND)
        moved = list(already)
        try:
            ensure_maildir(mbox / self.quarantine_folder)
        except MaildirError as exc:
            return QuarantineOutcome(RemovalResult.FAILED, moved=tuple(moved), reason=str(exc))
        errors: list[str] = []
        raced = False
        for hit in hits:
            src = mbox / hit.rel_dir / hit.name
            try:
                target = move_no_clobber(src, mbox / q_cur, _quarantine_name(hit.name, hit.rel_dir))
            except FileNotFoundError:
                raced = True  # a concurrent run moved it: look for it in quarantine below
                continue
            except OSError as exc:
                errors.append(f"{hit.rel_dir}/{hit.name}: {exc.strerror or exc}")
                continue
            moved.append(Moved(original_folder=hit.rel_dir, quarantine_folder=q_cur,
                               new_ref=target.name))
        if raced:
            mine = {m.new_ref for m in moved}
            moved += [m for m in self._already(mbox, matcher) if m.new_ref not in mine]
        return after_move(moved, errors, "cannot move: ", "; ")

    def _already(self, mbox: Path, matcher: HeaderMatcher) -> list[Moved]:
        return [Moved(original_folder=_origin_of(hit.name) or "cur",
                      quarantine_folder=hit.rel_dir, new_ref=hit.name)
                for hit in self._find(mbox, matcher, quarantine=True)]

    def _find(self, mbox: Path, matcher: HeaderMatcher, *, quarantine: bool) -> list[_Hit]:
        folders = [self.quarantine_folder] if quarantine else ["", *self._subfolders(mbox)]
        hits: list[_Hit] = []
        for folder in folders:
            for sub in ("cur", "new"):
                rel_dir = f"{folder}/{sub}" if folder else sub
                directory = mbox / rel_dir
                try:
                    with os.scandir(directory) as it:
                        names = [e.name for e in it if not e.name.startswith(".")]
                except OSError:
                    continue  # missing cur/ or new/ in a hand-made folder
                for name in names:
                    try:
                        block = read_header_block(directory / name, self._max_header_bytes)
                    except OSError:
                        continue  # vanished, a directory, a FIFO: not a message
                    if matcher.matches(block):
                        hits.append(_Hit(rel_dir, name))
        return hits

    def _subfolders(self, mbox: Path) -> list[str]:
        out: list[str] = []
        try:
            with os.scandir(mbox) as it:
                for entry in it:
                    if (entry.name.startswith(".") and entry.name != self.quarantine_folder
                            and _valid_folder_name(entry.name)
                            and entry.is_dir(follow_symlinks=False)):
                        out.append(entry.name)
        except OSError:
            pass
        return sorted(out)

    def _restore(self, mbox: Path, moved: Moved) -> RestoreResult:
        if not mbox.is_dir() or not self._inside_root(mbox):
            return RestoreResult.NOT_FOUND
        src = mbox / moved.quarantine_folder / moved.new_ref
        if not os.path.lexists(src):
            return RestoreResult.NOT_FOUND
        dest_dir = mbox / moved.original_folder
        folder = moved.original_folder.rpartition("/")[0]
        try:
            if folder:
                ensure_maildir(mbox / folder)  # the user may have deleted the folder since
            move_no_clobber(src, dest_dir, _original_name(moved.new_ref))
        except FileNotFoundError:
            return RestoreResult.NOT_FOUND
        except (OSError, MaildirError):
            return RestoreResult.FAILED
        return RestoreResult.RESTORED


def _valid_folder_name(name: str) -> bool:
    return (len(name) > 1 and name.startswith(".") and name not in (".", "..")
            and "/" not in name and "\x00" not in name and ".." not in name)


def _check_moved(moved: Moved) -> None:
    for folder in (moved.original_folder, moved.quarantine_folder):
        if not _FOLDER_RE.fullmatch(folder):
            raise _Refused(f"folder refused: {folder[:80]!r}")
        top = folder.rpartition("/")[0]
        if top and not _valid_folder_name(top):
            raise _Refused(f"folder refused: {folder[:80]!r}")
    ref = moved.new_ref
    if not ref or ref.startswith(".") or "/" in ref or "\x00" in ref:
        raise _Refused(f"file name refused: {ref[:80]!r}")


def _quarantine_name(name: str, rel_dir: str) -> str:
    """name with its origin folder recorded in the base (dropped if it would not fit)."""
    base, info = split_info(name)
    # "." is escaped too, so that a clash suffix (".1") can be told from the origin.
    origin = quote(rel_dir, safe="").replace(".", "%2E")
    marked = f"{base}{ORIGIN_FIELD}{origin}{info}"
    return marked if len(marked.encode()) <= MAX_NAME_BYTES - 8 else name


def _origin_of(name: str) -> str | None:
    base = split_info(name)[0]
    _, sep, origin = base.rpartition(ORIGIN_FIELD)
    if not sep:
        return None
    # A clash suffix from move_no_clobber (".1") may follow the origin.
    folder = unquote(origin.split(".", 1)[0])
    return folder if _FOLDER_RE.fullmatch(folder) else None


def _original_name(name: str) -> str:
    base, info = split_info(name)
    head, sep, _ = base.rpartition(ORIGIN_FIELD)
    return f"{head}{info}" if sep else name
