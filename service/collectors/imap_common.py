"""Connection plumbing shared by the IMAP journal collector and the IMAP mailbox backend.

imapclient is blocking: every function here runs inside a worker thread, never on
the event loop. Errors come out as ImapError with a short, secret-free reason.
"""

from __future__ import annotations

import contextlib
import imaplib
import socket
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import imapclient
from imapclient import SocketTimeout
from imapclient import exceptions as imap_exc

from service.collectors.imap_match import parse_copyuid

TlsMode = Literal["ssl", "starttls", "none"]
TLS_MODES: tuple[str, ...] = ("ssl", "starttls", "none")
DEFAULT_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 5.0  # connect + greeting: a server going down accepts and never greets
_REASON_CHARS = 300
_NOT_SELECTABLE = {b"\\noselect", b"\\nonexistent"}
# Connection-level failures: the session is dead, a fresh one may succeed.
BROKEN = (imap_exc.IMAPClientAbortError, imaplib.IMAP4.abort, OSError)
T = TypeVar("T")
IDLE_MAX_S = 120.0  # a pooled session idle longer than this is replaced, not trusted


class ImapError(Exception):
    """Something is wrong with an IMAP server or account; the message holds no secret."""


@dataclass(frozen=True, slots=True)
class ImapEndpoint:
    host: str
    port: int
    tls: TlsMode
    tls_verify: bool = True
    timeout_s: float = DEFAULT_TIMEOUT_S

    def __post_init__(self) -> None:
        if self.tls not in TLS_MODES:
            raise ValueError(f"imap tls must be one of {', '.join(TLS_MODES)}, not {self.tls!r}")

    @property
    def label(self) -> str:
        return f"{self.host}:{self.port}"


def ssl_context(verify: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if not verify:
        # Operators opt into this for self-signed lab servers; the default verifies.
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """Short reason text with any secret removed: server replies may echo input."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text[:_REASON_CHARS]


def describe(exc: BaseException, secrets: tuple[str, ...] = ()) -> str:
    """One line on what went wrong, for logs and FAILED reasons."""
    if isinstance(exc, ImapError):
        text = str(exc)
    elif isinstance(exc, ConnectionRefusedError):
        text = "connection refused"
    elif isinstance(exc, TimeoutError | socket.timeout):
        text = "timed out"
    elif isinstance(exc, ssl.SSLError):
        text = f"TLS failure: {exc.reason or exc}"
    elif isinstance(exc, imap_exc.LoginError):
        text = f"login refused: {_text(exc)}"
    else:
        text = f"{type(exc).__name__}: {_text(exc)}"
    return scrub(text, secrets)


def _text(exc: BaseException) -> str:
    parts = []
    for arg in exc.args:
        parts.append(arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg))
    return " ".join(parts) or type(exc).__name__


def connect(ep: ImapEndpoint) -> imapclient.IMAPClient:
    """Open a connection (TLS as configured), or raise ImapError naming what failed."""
    ctx = ssl_context(ep.tls_verify) if ep.tls != "none" else None
    try:
        client = imapclient.IMAPClient(
            ep.host,
            ep.port,
            ssl=ep.tls == "ssl",
            ssl_context=ctx,
            timeout=SocketTimeout(connect=min(CONNECT_TIMEOUT_S, ep.timeout_s), read=ep.timeout_s),
        )
    except ssl.SSLError as exc:
        raise ImapError(f"{ep.label}: TLS failure: {exc.reason or exc}") from None
    except OSError as exc:
        raise ImapError(f"cannot connect to {ep.label}: {describe(exc)}") from None
    # imapclient writes a command in several small sends; without NODELAY, Nagle plus
    # delayed ACK stalls some commands by 40 ms.
    with contextlib.suppress(OSError):
        client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if ep.tls == "starttls":
        try:
            client.starttls(ctx)
        except Exception as exc:
            safe_close(client)
            raise ImapError(f"{ep.label}: STARTTLS failed: {describe(exc)}") from None
    return client


def login(
    client: imapclient.IMAPClient, ep: ImapEndpoint, username: str, password: str
) -> None:
    try:
        client.login(username, password)
    except imap_exc.LoginError as exc:
        safe_close(client)
        reason = scrub(_text(exc), (password,))
        if "socket error" in reason:  # imapclient wraps a dropped connection as LoginError
            raise ImapError(f"{ep.label}: connection lost during login: {reason}") from None
        raise ImapError(
            f"{ep.label}: login refused for {username!r} (wrong user or password?): {reason}"
        ) from None


def open_session(ep: ImapEndpoint, username: str, password: str) -> imapclient.IMAPClient:
    client = connect(ep)
    try:
        login(client, ep, username, password)
    except ImapError:
        raise
    except Exception as exc:
        safe_close(client)
        raise ImapError(f"{ep.label}: login failed: {describe(exc, (password,))}") from None
    return client


def select(client: imapclient.IMAPClient, folder: str, *, readonly: bool) -> dict[bytes, Any]:
    """SELECT/EXAMINE folder; a folder that does not exist is a clear ImapError."""
    try:
        result: dict[bytes, Any] = client.select_folder(folder, readonly=readonly)
    except imap_exc.IMAPClientError as exc:
        if isinstance(exc, imap_exc.IMAPClientAbortError):
            raise
        raise ImapError(f"cannot open folder {folder!r}: {_text(exc)}") from None
    return result


def uidvalidity(select_response: dict[bytes, Any]) -> int:
    value = select_response.get(b"UIDVALIDITY")
    if value is None:
        raise ImapError("server sent no UIDVALIDITY")
    return int(value)


def safe_logout(client: imapclient.IMAPClient) -> None:
    with contextlib.suppress(Exception):
        client.logout()
    safe_close(client)


def safe_close(client: imapclient.IMAPClient) -> None:
    with contextlib.suppress(Exception):
        client.shutdown()


class SessionPool:
    """Idle logged-in sessions per account; thread-safe, least recently used evicted."""

    def __init__(self, per_key: int, total: int) -> None:
        self._per_key = per_key
        self._total = total
        self._idle: OrderedDict[str, list[tuple[imapclient.IMAPClient, float]]] = OrderedDict()
        self._count = 0
        self._lock = threading.Lock()

    def take(self, key: str) -> imapclient.IMAPClient | None:
        stale = []
        found = None
        with self._lock:
            sessions = self._idle.get(key, [])
            while sessions:
                client, since = sessions.pop()
                self._count -= 1
                if time.monotonic() - since < IDLE_MAX_S:
                    found = client
                    break
                stale.append(client)
            if not sessions:
                self._idle.pop(key, None)
        for client in stale:
            safe_logout(client)
        return found

    def give(self, key: str, client: imapclient.IMAPClient) -> None:
        evicted = []
        with self._lock:
            sessions = self._idle.setdefault(key, [])
            self._idle.move_to_end(key)
            sessions.append((client, time.monotonic()))
            self._count += 1
            if len(sessions) > self._per_key:
                evicted.append(sessions.pop(0)[0])
                self._count -= 1
            while self._count > self._total:
                oldest, old_sessions = next(iter(self._idle.items()))
                evicted.append(old_sessions.pop(0)[0])
                self._count -= 1
                if not old_sessions:
                    del self._idle[oldest]
        for c in evicted:
            safe_logout(c)

    def run(self, key: str, login: Callable[[str], imapclient.IMAPClient],
            op: Callable[[imapclient.IMAPClient], T]) -> T:
        """Run op on a pooled session of key; a dead pooled one is replaced once."""
        client = self.take(key)
        pooled = client is not None
        if client is None:
            client = login(key)
        try:
            result = op(client)
        except BROKEN:
            safe_logout(client)
            if not pooled:
                raise
            client = login(key)
            try:
                result = op(client)
            except BaseException:
                safe_logout(client)
                raise
        except BaseException:
            # A NO/BAD leaves the session usable, but its state is unknown: drop it.
            safe_logout(client)
            raise
        self.give(key, client)
        return result

    def drain(self) -> list[imapclient.IMAPClient]:
        with self._lock:
            out = [c for sessions in self._idle.values() for c, _ in sessions]
            self._idle.clear()
            self._count = 0
        return out


def list_selectable(client: imapclient.IMAPClient) -> list[str]:
    """Every folder that can be selected, by name."""
    out = []
    for flags, _delim, name in client.list_folders():
        if {f.lower() for f in flags} & _NOT_SELECTABLE:
            continue
        out.append(name if isinstance(name, str) else name.decode("utf-8", "replace"))
    return out


def move_selected(client: imapclient.IMAPClient, uids: list[int], dest: str,
                  ) -> tuple[int, dict[int, int]]:
    """Move uids out of the selected folder; (dest uidvalidity, old uid -> new uid)."""
    client._imap.untagged_responses.pop("COPYUID", None)
    if client.has_capability("MOVE"):
        client.move(uids, dest)
    else:
        client.copy(uids, dest)
        client.add_flags(uids, [imapclient.DELETED], silent=True)
        if client.has_capability("UIDPLUS"):
            client.uid_expunge(uids)
        # Without UIDPLUS a plain EXPUNGE would also purge the user's own \Deleted
        # mail: leave the copy flagged \Deleted (a soft delete) instead.
    codes = client._imap.untagged_responses.pop("COPYUID", [])
    return parse_copyuid(codes)


class FolderCache:
    """Folder names per account for ttl_s seconds; thread-safe, bounded (LRU)."""

    def __init__(self, ttl_s: float, max_entries: int = 10_000) -> None:
        self._ttl_s = ttl_s
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[float, list[str]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> list[str] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or time.monotonic() - entry[0] > self._ttl_s:
                return None
            return list(entry[1])

    def put(self, key: str, folders: list[str]) -> None:
        if self._ttl_s <= 0:
            return
        with self._lock:
            self._entries[key] = (time.monotonic(), list(folders))
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def forget(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)
