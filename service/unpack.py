"""Worker side of expansion: open one container and return its members, under hard caps.

Runs inside the process pool (service/procpool.py), so everything here may be slow or
crash on hostile input without harming the service. Inputs and outputs are plain bytes,
str, int and tuples only. Declared sizes are never trusted: every member is read as a
stream and cut at the byte budget the parent hands over.

Kinds: "zip" (stored, deflate, ZipCrypto and AES via pyzipper), "7z" (py7zr, with or
without a password), "office" (msoffcrypto-tool: encrypted OOXML and legacy
doc/xls/ppt), "ooxml" (the text-bearing XML parts of a decrypted OOXML package, which
are themselves deflated, so YARA could not see them otherwise) and "pdf" (pypdf
embedded files).
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from typing import Any

Member = tuple[str, bytes, str]  # (name, data, note); note "decrypted" marks a decryption
Event = tuple[str, str]  # (Code value, evidence)
Result = tuple[tuple[Member, ...], tuple[Event, ...]]
Passwords = tuple[tuple[str, str], ...]  # (password, where it was found), best first
# (byte budget, entries left, max bytes per member, max password tries per file)
Caps = tuple[int, int, int, int]

DEFAULT_OFFICE_PASSWORD = ("VelvetSweatshop", "Excel's default password")
_CHUNK = 1024 * 1024
_NAME_CHARS = 200
_ZIP_TRIES = 20  # a zip key costs about a millisecond, so more candidates are affordable
_OOXML_TEXT = re.compile(
    r"^(?:word/(?:document|header\d*|footer\d*|footnotes|endnotes|comments)\.xml"
    r"|xl/(?:sharedStrings|worksheets/sheet\d+)\.xml"
    r"|ppt/(?:slides/slide\d+|notesSlides/notesSlide\d+)\.xml"
    r"|(?:word|xl|ppt)/_rels/[^/]+\.rels)$"
)

logging.getLogger("pypdf").setLevel(logging.CRITICAL)


class _Overflow(Exception):
    """A member or the archive ran past its byte budget."""


class _Budget:
    def __init__(self, caps: Caps) -> None:
        self.left, self.entries, self.per_member, self.tries = caps
        self.events: list[Event] = []
        self.members: list[Member] = []

    def event(self, code: str, evidence: str) -> None:
        if (code, evidence) not in self.events:
            self.events.append((code, evidence))

    def add(self, name: str, data: bytes, note: str = "", counted: bool = False) -> bool:
        """False once the entry budget is spent. `counted`: already charged by a read."""
        if self.entries <= 0:
            self.event("archive_too_many_entries", "entry limit reached")
            return False
        self.entries -= 1
        if not counted:
            self.charge(len(data))
        self.members.append((name[:_NAME_CHARS], data, note))
        return True

    def charge(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise _Overflow

    def too_large(self, total: int) -> None:
        self.event("part_too_large", f"member of {total} bytes over the "
                                     f"{self.per_member}-byte cap skipped")

    def result(self) -> Result:
        return tuple(self.members), tuple(self.events)


def _read_capped(stream: Any, budget: _Budget) -> bytes | None:
    """Inflate as a stream: every byte counts against the budget (that is the work a
    bomb costs), only the first `per_member` bytes are kept; None when over that."""
    out = bytearray()
    total = 0
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            break
        total += len(chunk)
        budget.charge(len(chunk))
        if total <= budget.per_member:
            out += chunk
    if total > budget.per_member:
        budget.too_large(total)
        return None
    return bytes(out)


def unpack(kind: str, data: bytes, passwords: Passwords, caps: Caps) -> Result:
    budget = _Budget(caps)
    try:
        _KINDS[kind](data, passwords, budget)
    except _Overflow:
        budget.event("archive_bomb", f"{kind} expands past its budget of {caps[0]} bytes")
    except MemoryError:
        budget.event("archive_bomb", f"{kind} exhausted the worker's memory")
    except Exception as exc:  # hostile input: any parser error is a finding, not a crash
        if kind in ("zip", "7z"):
            budget.event("archive_corrupt", f"{kind}: {type(exc).__name__}")
    return budget.result()


def _zip(data: bytes, passwords: Passwords, budget: _Budget) -> None:
    import pyzipper

    with pyzipper.AESZipFile(io.BytesIO(data)) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        opened: tuple[str, str] | None = None
        locked = 0
        for info in infos:
            if budget.left <= 0:
                raise _Overflow
            if not info.flag_bits & 0x1:
                member = _zip_read(zf, info, None, budget)
            else:
                order = ([opened] if opened else []) + [p for p in passwords if p != opened]
                member = None
                for pw in order[:_ZIP_TRIES]:
                    member = _zip_read(zf, info, pw[0].encode("utf-8"), budget)
                    if member is not None:
                        if opened is None:
                            budget.event("decrypted_attachment",
                                         f"password '{pw[0]}' from {pw[1]}")
                        opened = pw
                        break
                if member is None:
                    locked += 1
                    continue
            if member is not None and not budget.add(info.filename, member,
                                                     "decrypted" if opened else "", True):
                break
        if locked:
            budget.event("encrypted_attachment",
                         f"{locked} encrypted member(s); no candidate of "
                         f"{min(len(passwords), _ZIP_TRIES)} opened them")


def _zip_read(zf: Any, info: Any, pwd: bytes | None, budget: _Budget) -> bytes | None:
    """The member's bytes; None on a wrong password or an oversized (skipped) member."""
    try:
        with zf.open(info, pwd=pwd) as stream:
            return _read_capped(stream, budget)
    except (RuntimeError, zipfile.BadZipFile, ValueError) as exc:
        if pwd is None and "password" not in str(exc).lower():
            raise
        return None


class _Sink:
    """py7zr writer that counts against the budget and stops at it."""

    def __init__(self, budget: _Budget) -> None:
        self._budget = budget
        self._buf = bytearray()
        self._pos = 0
        self.total = 0

    def write(self, s: bytes | bytearray) -> int:
        self.total += len(s)
        self._budget.charge(len(s))
        if self.total <= self._budget.per_member:
            self._buf += s
        return len(s)

    def read(self, size: int | None = None) -> bytes:
        end = len(self._buf) if size is None or size < 0 else self._pos + size
        out = bytes(self._buf[self._pos:end])
        self._pos += len(out)
        return out

    def seek(self, offset: int, whence: int = 0) -> int:
        self._pos = {0: offset, 1: self._pos + offset, 2: len(self._buf) + offset}[whence]
        return self._pos

    def flush(self) -> None:
        return None

    def size(self) -> int:
        return len(self._buf)

    def close(self) -> None:
        return None

    def value(self) -> bytes:
        return bytes(self._buf)


def _sevenzip(data: bytes, passwords: Passwords, budget: _Budget) -> None:
    import py7zr
    from py7zr.io import Py7zIO, WriterFactory

    sinks: dict[str, _Sink] = {}

    class Factory(WriterFactory):
        def create(self, filename: str) -> Py7zIO:
            sinks[filename] = _Sink(budget)
            return sinks[filename]  # type: ignore[return-value]

    with py7zr.SevenZipFile(io.BytesIO(data), mode="r") as probe:
        needs = probe.needs_password()
    if not needs:
        tries: list[tuple[str, str] | None] = [None]
    else:
        tries = list(passwords[:budget.tries])
    for pw in tries:
        sinks.clear()
        try:
            with py7zr.SevenZipFile(io.BytesIO(data), mode="r",
                                    password=pw[0] if pw else None) as sz:
                sz.extract(factory=Factory())
        except _Overflow:
            raise
        except Exception:
            if pw is None:
                raise
            continue
        if pw is not None:
            budget.event("decrypted_attachment", f"password '{pw[0]}' from {pw[1]}")
        for name, sink in sinks.items():
            if sink.total > budget.per_member:
                budget.too_large(sink.total)
            elif not budget.add(name, sink.value(), "decrypted" if pw else "", True):
                break
        return
    budget.event("encrypted_attachment",
                 f"7z needs a password; none of {len(tries)} candidate(s) opened it")


def _office(data: bytes, passwords: Passwords, budget: _Budget) -> None:
    import msoffcrypto

    if not msoffcrypto.OfficeFile(io.BytesIO(data)).is_encrypted():
        return
    tries = [DEFAULT_OFFICE_PASSWORD, *[p for p in passwords if p != DEFAULT_OFFICE_PASSWORD]]
    tries = tries[:budget.tries + 1]  # the default password is free of the cap
    for pw, source in tries:
        office = msoffcrypto.OfficeFile(io.BytesIO(data))
        try:
            # No verify_password: on Agile it runs the 100,000-round derivation a second
            # time, and on legacy doc/xls/ppt it raises TypeError. decrypt() checks the
            # key anyway (InvalidKeyError), so a wrong password costs one derivation.
            office.load_key(password=pw)
            out = io.BytesIO()
            office.decrypt(out)
        except Exception:
            continue
        plain = out.getvalue()
        if not plain.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
            continue  # a key that "worked" but yields no document was the wrong one
        if len(plain) > budget.per_member:
            budget.too_large(len(plain))
            return
        budget.event("decrypted_attachment", f"password '{pw}' from {source}")
        budget.add("decrypted", plain, "decrypted")
        return
    budget.event("encrypted_attachment",
                 f"encrypted Office document; none of {len(tries)} candidate(s) opened it")


def _ooxml(data: bytes, passwords: Passwords, budget: _Budget) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            if not _OOXML_TEXT.match(info.filename):
                continue
            with zf.open(info) as stream:
                part = _read_capped(stream, budget)
            if part is not None and not budget.add(info.filename, part, "decrypted", True):
                return


def _pdf(data: bytes, passwords: Passwords, budget: _Budget) -> None:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        reader.decrypt("")  # most "encrypted" PDFs use an empty user password
    for name, blobs in reader.attachments.items():
        for blob in blobs:
            if len(blob) > budget.per_member:
                budget.too_large(len(blob))
            elif not budget.add(name, blob):
                return


_KINDS = {"zip": _zip, "7z": _sevenzip, "office": _office, "ooxml": _ooxml, "pdf": _pdf}
KINDS = frozenset(_KINDS)
