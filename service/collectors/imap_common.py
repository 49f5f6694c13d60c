"""Connection plumbing shared by the IMAP journal collector and the IMAP mailbox backend.

imapclient is blocking: every function here runs inside a worker thread, never on
the event loop. Errors come out as ImapError with a short, secret-free reason.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from dataclasses import dataclass
from typing import Any, Literal

import imapclient
from imapclient import SocketTimeout
from imapclient import exceptions as imap_exc

TlsMode = Literal["ssl", "starttls", "none"]
TLS_MODES: tuple[str, ...] = ("ssl", "starttls", "none")
DEFAULT_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 5.0  # connect + greeting: a server going down accepts and never greets
_REASON_CHARS = 300


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
