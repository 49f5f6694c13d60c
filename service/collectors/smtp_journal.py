"""SMTP journal endpoint (aiosmtpd): Exchange Online's journal rule delivers reports here.

The one promise: `250` is answered only after the report is durably enqueued. A crash
between DATA and the reply leaves the sender without a 250, so it retries; the
pipeline's dedup (Message-ID + body hash) makes the retry a no-op if the first copy
did land. A store failure answers 451 (try again later), never 250.

Who may deliver: clients in allowed_networks, or clients that authenticated (AUTH
PLAIN/LOGIN against a users file, only after STARTTLS when TLS is configured). A
message over max_message_bytes gets 552 (aiosmtpd checks SIZE= and the DATA length).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import ssl
import time
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from service.collectors.base import Enqueue
from service.state.base import QueueItem

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SmtpConfigError(ValueError):
    """A file or setting of the endpoint is wrong; the message names it."""


def tls_context(name: str, cert_file: str | None, key_file: str | None) -> ssl.SSLContext | None:
    if not cert_file and not key_file:
        return None
    if not cert_file or not key_file:
        raise SmtpConfigError(f"collectors[{name}]: set both tls_cert_file and tls_key_file")
    for what, path in (("tls_cert_file", cert_file), ("tls_key_file", key_file)):
        try:
            Path(path).read_bytes()
        except OSError as exc:
            raise SmtpConfigError(f"collectors[{name}]: {what} {path}: "
                                  f"{exc.strerror or exc}") from None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(cert_file, key_file)
    except (ssl.SSLError, OSError) as exc:
        raise SmtpConfigError(f"collectors[{name}]: tls_cert_file {cert_file} / tls_key_file "
                              f"{key_file}: not a usable certificate and key ({exc})") from None
    return ctx


def read_users(name: str, path: str | None) -> dict[str, str]:
    """`user:password` lines (a mounted Secret); blank lines and # comments skipped."""
    if not path:
        return {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SmtpConfigError(f"collectors[{name}]: auth_users_file {path}: "
                              f"{exc.strerror or exc}") from None
    users = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, password = line.partition(":")
        if not sep or not user or not password:
            raise SmtpConfigError(f"collectors[{name}]: auth_users_file {path} line {n}: "
                                  "expected user:password")
        users[user] = password
    return users


def parse_networks(name: str, values: tuple[str, ...]) -> tuple[Network, ...]:
    out = []
    for value in values:
        try:
            out.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise SmtpConfigError(f"collectors[{name}]: allowed_networks: {value!r} is not "
                                  "a network") from None
    return tuple(out)


class _Handler:
    def __init__(self, owner: SmtpJournalCollector, enqueue: Enqueue) -> None:
        self.owner = owner
        self.enqueue = enqueue

    def _refusal(self, session: Any) -> str | None:
        if self.owner.allowed(session.peer) or session.authenticated:
            return None
        if self.owner.users:
            return "530 5.7.0 Authentication required"
        return "554 5.7.1 Client host not allowed"

    async def handle_MAIL(self, server: SMTP, session: Any, envelope: Any, address: str,
                          mail_options: list[str]) -> str:
        refusal = self._refusal(session)
        if refusal:
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        refusal = self._refusal(session)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        refusal = self._refusal(session)
        if refusal:
            return refusal
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        peer = session.peer[0] if session.peer else "?"
        item = QueueItem(collector=self.owner.name, raw=bytes(raw), received_at=time.time(),
                         ref=f"smtp:{peer}")
        try:
            # Shielded: a client hanging up mid-enqueue must not leave a half-written entry
            # we then deny; the sender retries either way and dedup absorbs the copy.
            await asyncio.shield(self.enqueue(item))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("collector %s: cannot enqueue a journal report (%s); answered 451",
                      self.owner.name, type(exc).__name__, extra={"collector": self.owner.name})
            return "451 4.3.0 Cannot queue the message now; try again later"
        return "250 2.0.0 OK: queued"


class SmtpJournalCollector:
    """JournalCollector that listens for SMTP deliveries instead of polling."""

    def __init__(self, name: str, host: str, port: int, *, tls_cert_file: str | None = None,
                 tls_key_file: str | None = None, require_tls: bool = False,
                 allowed_networks: tuple[str, ...] = ("127.0.0.0/8", "::1/128"),
                 auth_users_file: str | None = None,
                 max_message_bytes: int = 64 * 1024 * 1024,
                 hostname: str | None = None) -> None:
        self.name = name
        self.host, self.port = host, port
        self._tls = tls_context(name, tls_cert_file, tls_key_file)
        self._require_tls = require_tls
        if require_tls and self._tls is None:
            raise SmtpConfigError(f"collectors[{name}]: require_tls needs tls_cert_file and "
                                  "tls_key_file")
        self.networks = parse_networks(name, allowed_networks)
        self.users = read_users(name, auth_users_file)
        self.max_bytes = max_message_bytes
        self.hostname = hostname
        self.bound: tuple[str, int] | None = None  # the address actually listened on
        self.listening = asyncio.Event()  # set once bound (tests, port 0)

    async def check(self) -> None:
        """Files and networks were validated when built; here the address must be free."""
        loop = asyncio.get_running_loop()
        try:
            server = await loop.create_server(asyncio.Protocol, self.host, self.port)
        except OSError as exc:
            raise SmtpConfigError(f"collectors[{self.name}]: cannot listen on "
                                  f"{self.host}:{self.port}: {exc.strerror or exc}") from None
        server.close()
        await server.wait_closed()

    def allowed(self, peer: Any) -> bool:
        try:
            ip = ipaddress.ip_address(str(peer[0]).split("%", 1)[0])
        except (ValueError, TypeError, IndexError):
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.networks)

    def _authenticate(self, server: SMTP, session: Any, envelope: Any, mechanism: str,
                      auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode("utf-8", "replace")
        expected = self.users.get(user)
        ok = expected is not None and hmac.compare_digest(
            expected.encode(), bytes(auth_data.password))
        return AuthResult(success=ok, handled=False)

    def _protocol(self, handler: _Handler) -> SMTP:
        return SMTP(handler, data_size_limit=self.max_bytes, enable_SMTPUTF8=True,
                    hostname=self.hostname, ident="Trawler journal endpoint",
                    tls_context=self._tls, require_starttls=self._require_tls,
                    auth_required=False, auth_require_tls=self._tls is not None,
                    authenticator=self._authenticate if self.users else None, timeout=60)

    async def run(self, enqueue: Enqueue, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        handler = _Handler(self, enqueue)
        server = await loop.create_server(lambda: self._protocol(handler), self.host, self.port)
        sock = server.sockets[0].getsockname()
        self.bound = (str(sock[0]), int(sock[1]))
        self.listening.set()
        log.info("collector %s: SMTP journal endpoint on %s:%d (STARTTLS %s, AUTH %s)",
                 self.name, sock[0], sock[1], "on" if self._tls else "off",
                 "on" if self.users else "off", extra={"collector": self.name})
        try:
            await stop.wait()
        finally:
            self.listening.clear()
            server.close()
            await server.wait_closed()
