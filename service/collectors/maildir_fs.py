"""Filesystem helpers shared by the Maildir journal collector and the Maildir mailbox backend.

Everything here is blocking; callers run it in a thread. Files are opened with
O_NOFOLLOW | O_NONBLOCK and checked to be regular files so that a symlink or a FIFO
dropped into a maildir can neither redirect a read nor hang it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

SUBDIRS = ("cur", "new", "tmp")
INFO_SEP = ":"  # Maildir: "<unique base>:2,<flags>"
READ_CHUNK = 8192


class MaildirError(Exception):
    """A maildir path is unusable; the message says which path and why."""


def ensure_maildir(path: Path) -> None:
    """Create path with cur/new/tmp if missing; raise MaildirError if it is unusable."""
    try:
        for sub in SUBDIRS:
            (path / sub).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MaildirError(f"cannot create maildir {path}: {exc.strerror or exc}") from None
    for sub in ("", *SUBDIRS):
        p = path / sub if sub else path
        if p.is_symlink() or not p.is_dir():
            raise MaildirError(f"maildir {p} is not a directory")
        if not os.access(p, os.R_OK | os.W_OK | os.X_OK):
            raise MaildirError(f"maildir {p} is not readable and writable")


def split_info(name: str) -> tuple[str, str]:
    """Split a maildir file name into (base, info); info keeps its leading ':' or is ''."""
    base, sep, info = name.partition(INFO_SEP)
    return base, sep + info


def with_flag(name: str, flag: str) -> str:
    """Return name with the Maildir "2," info carrying flag (flags stay sorted, unique)."""
    base, info = split_info(name)
    flags = info[3:] if info.startswith(":2,") else ""
    return f"{base}:2,{''.join(sorted(set(flags + flag)))}"


def open_regular(path: Path) -> int:
    """Open path read-only without following symlinks or blocking on FIFOs.

    Raises OSError (IsADirectoryError for anything that is not a regular file).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IsADirectoryError(f"{path.name} is not a regular file")
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_all(path: Path, max_bytes: int) -> bytes:
    """Read a whole regular file; ValueError if it is larger than max_bytes."""
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"larger than {max_bytes} bytes")
    return data


def read_header_block(path: Path, max_bytes: int) -> bytes:
    """Read a message's header block: up to the first blank line, at most max_bytes."""
    fd = open_regular(path)
    buf = bytearray()
    with os.fdopen(fd, "rb") as fh:
        while len(buf) < max_bytes:
            chunk = fh.read(READ_CHUNK)
            if not chunk:
                break
            # Search from a little before the new chunk: the blank line may straddle it.
            start = max(0, len(buf) - 3)
            buf += chunk
            end = _blank_line(buf, start)
            if end >= 0:
                return bytes(buf[:end])
    return bytes(buf[:max_bytes])


def _blank_line(buf: bytearray, start: int) -> int:
    """Offset where the header block ends (before the blank line), or -1."""
    if start == 0 and (buf.startswith(b"\n") or buf.startswith(b"\r\n")):
        return 0
    hits = [i for i in (buf.find(b"\n\n", start), buf.find(b"\n\r\n", start)) if i >= 0]
    return min(hits) + 1 if hits else -1


def unique_target(directory: Path, name: str) -> Path:
    """directory/name, or a variant of name that does not exist yet (never clobber)."""
    target = directory / name
    if not os.path.lexists(target):
        return target
    base, info = split_info(name)
    n = 1
    while True:
        target = directory / f"{base}.{n}{info}"
        if not os.path.lexists(target):
            return target
        n += 1


def move_no_clobber(src: Path, directory: Path, name: str) -> Path:
    """Rename src into directory (one filesystem, atomic) without replacing anything there."""
    target = unique_target(directory, name)
    os.rename(src, target)
    return target
