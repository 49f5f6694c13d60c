"""exchangelib plumbing shared by the EWS journal collector and the EWS mailbox backend.

exchangelib is synchronous: every function here blocks and is meant to run in the
bounded executor the callers own (EwsPool). Accounts are built with an explicit
service endpoint and server version and no autodiscover, so a configuration points at
exactly one server and `trawler check` can say which URL failed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from exchangelib import (  # type: ignore[import-untyped]
    BASIC,
    DELEGATE,
    IMPERSONATION,
    NTLM,
    Account,
    Configuration,
    Credentials,
    Version,
)
from exchangelib.errors import (  # type: ignore[import-untyped]
    EWSError,
    TransportError,
    UnauthorizedError,
)
from exchangelib.protocol import BaseProtocol, FailFast  # type: ignore[import-untyped]
from exchangelib.version import (  # type: ignore[import-untyped]
    EXCHANGE_2013,
    EXCHANGE_2013_SP1,
    EXCHANGE_2016,
    EXCHANGE_2019,
)

T = TypeVar("T")

VERSIONS = {
    "Exchange2013": EXCHANGE_2013,
    "Exchange2013_SP1": EXCHANGE_2013_SP1,
    "Exchange2016": EXCHANGE_2016,
    "Exchange2019": EXCHANGE_2019,
}
AUTH_TYPES = {"basic": BASIC, "ntlm": NTLM}
ACCESS_TYPES = {"impersonation": IMPERSONATION, "delegate": DELEGATE}


class EwsError(Exception):
    """An EWS call failed; the message names the endpoint and the cause, never a secret."""


@dataclass(frozen=True, slots=True)
class EwsSettings:
    service_endpoint: str
    username: str
    password: str = ""
    version: str = "Exchange2016"
    auth_type: str = "ntlm"
    access_type: str = "impersonation"
    timeout_s: float = 30.0
    threads: int = 8  # exchangelib calls in flight: the cap on load on the CAS server

    def __post_init__(self) -> None:
        if self.version not in VERSIONS:
            raise ValueError(f"ews version {self.version!r} unknown; one of "
                             f"{', '.join(sorted(VERSIONS))}")
        if self.auth_type not in AUTH_TYPES:
            raise ValueError(f"ews auth_type {self.auth_type!r} unknown; basic or ntlm")
        if self.access_type not in ACCESS_TYPES:
            raise ValueError(f"ews access_type {self.access_type!r} unknown; "
                             "impersonation or delegate")

    def __repr__(self) -> str:  # the password never reaches a log line
        return f"EwsSettings(service_endpoint={self.service_endpoint!r}, user={self.username!r})"


class EwsPool:
    """One exchangelib Configuration and a bounded thread pool for its blocking calls."""

    def __init__(self, settings: EwsSettings) -> None:
        self.settings = settings
        # FailFast: no silent minutes-long retry loop inside a thread; the callers'
        # retry and backoff policy decides.
        self.config = Configuration(
            service_endpoint=settings.service_endpoint,
            credentials=Credentials(settings.username, settings.password),
            auth_type=AUTH_TYPES[settings.auth_type],
            version=Version(build=VERSIONS[settings.version]),
            retry_policy=FailFast(),
            max_connections=settings.threads,
        )
        BaseProtocol.TIMEOUT = settings.timeout_s
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._accounts: dict[str, Any] = {}

    def account(self, address: str, *, access_type: str | None = None) -> Any:
        kind = access_type or self.settings.access_type
        key = f"{kind}:{address.lower()}"
        acct = self._accounts.get(key)
        if acct is None:
            acct = Account(primary_smtp_address=address, config=self.config,
                           autodiscover=False, access_type=ACCESS_TYPES[kind])
            self._accounts[key] = acct
        return acct

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        ctx = contextvars.copy_context()
        call = functools.partial(ctx.run, fn, *args)
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=self.settings.threads, thread_name_prefix="ews")
        try:
            return await loop.run_in_executor(self._executor, call)
        except (UnauthorizedError, TransportError, EWSError) as exc:
            raise EwsError(describe(self.settings.service_endpoint, exc)) from None

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        self._accounts.clear()
        with contextlib.suppress(Exception):
            self.config.protocol.close()


def describe(endpoint: str, exc: BaseException) -> str:
    """A one-line cause that names the endpoint; exchangelib messages hold no password."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, UnauthorizedError):
        return f"EWS {endpoint}: credentials refused ({text[:200]})"
    if isinstance(exc, TransportError):
        return f"EWS {endpoint}: cannot reach the endpoint ({text[:200]})"
    return f"EWS {endpoint}: {type(exc).__name__}: {text[:200]}"
