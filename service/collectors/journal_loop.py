"""The reconnect loop of the polling journal collectors (EWS, Graph) and their stoppable wait.

A collector's `step` follows the mailbox until stop is set or something fails; this
loop logs the failure, waits with exponential backoff (cut short by stop) and starts
the step again, so that a collector returns only when stop is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

MAX_BACKOFF_S = 60.0


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep for seconds, or less when stop is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def run_with_backoff(name: str, step: Callable[[], Awaitable[None]],
                           stop: asyncio.Event, log: logging.Logger, *,
                           clear_errors: type[Exception],
                           on_error: Callable[[], None] | None = None) -> None:
    """Run step until stop is set, retrying after any failure but cancellation.

    Only the message of a clear_errors exception is logged: those are written to
    name the problem without secrets. Anything else is logged by its type alone,
    as its text may carry a credential or a server's answer.
    """
    backoff = 1.0
    while not stop.is_set():
        try:
            await step()
            backoff = 1.0
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Server down, credentials changed, sync state refused: reconnect later.
            text = str(exc) if isinstance(exc, clear_errors) else type(exc).__name__
            log.error("collector %s: %s; retrying in %.0fs", name, text, backoff,
                      extra={"collector": name})
            if on_error is not None:
                on_error()
            await wait_or_stop(stop, backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)
