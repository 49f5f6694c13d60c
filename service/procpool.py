"""A bounded process pool for killable CPU work: a hostile file may hang a worker, never us.

Decryption, archive walking, Office and PDF parsing are pure-Python CPU work on
attacker-controlled bytes. They run here, in worker processes that pebble kills when a
task passes its timeout (a thread cannot be killed; SIGALRM would hit the event loop).
Each worker caps its own address space, so a decompression bomb ends in MemoryError
inside the worker instead of swapping the machine. Only plain bytes, str, int and
tuples cross the process boundary, in both directions: nothing from an untrusted source
is ever pickled as an object.

The pool is process-wide (built on first use, rebuilt after a fork) because worker
processes are expensive to start; it holds no per-message state.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os
import resource
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from pebble import ProcessExpired, ProcessPool

T = TypeVar("T")

# Imported once by the fork server, so a worker restarted after a kill starts warm.
PRELOAD = ["pyzipper", "py7zr", "msoffcrypto", "pypdf", "oletools.olevba", "service.unpack"]
# Enough for a 25 MB part expanded under the 100 MB budget, plus the interpreter.
DEFAULT_MEMORY_BYTES = 2 * 1024 * 1024 * 1024


class PoolError(Exception):
    """A task did not produce a result: it timed out, or its worker died."""


class PoolTimeout(PoolError):
    pass


def _limit_memory(memory_bytes: int) -> None:
    try:
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = memory_bytes if hard == resource.RLIM_INFINITY else min(memory_bytes, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ValueError, OSError):  # some sandboxes forbid it; the timeout still holds
        pass


class ProcPool:
    """`await pool.run(fn, *args, timeout=s)`: fn runs in a worker that dies at the timeout.

    `fn` must be a module-level function (workers import it by name).
    """

    def __init__(self, workers: int = 2, memory_bytes: int = DEFAULT_MEMORY_BYTES) -> None:
        self.workers = max(1, workers)
        self._pool: ProcessPool | None = None
        if multiprocessing.current_process().daemon:
            # A multiprocessing.Pool worker (`trawler scan --jobs N`) may not have
            # children. Fall back to daemon threads: the timeout still returns control
            # (the work is abandoned, not killed), and a hung thread cannot block exit.
            return
        # forkserver: workers start from a clean interpreter, not a copy of a threaded
        # asyncio process (fork there can deadlock on locks held by other threads).
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        self._pool = ProcessPool(max_workers=self.workers, initializer=_limit_memory,
                                 initargs=(memory_bytes,), context=ctx)

    @property
    def killable(self) -> bool:
        return self._pool is not None

    async def run(self, fn: Callable[..., T], *args: Any,
                  timeout: float) -> T:  # noqa: ASYNC109 - the worker's kill timer
        if timeout <= 0:
            raise PoolTimeout("no time left")
        if self._pool is None:
            return await _run_in_daemon_thread(fn, args, timeout)
        future = self._pool.schedule(fn, args=args, timeout=timeout)
        try:
            # pebble's timer starts when a worker picks the task up; ours covers the
            # wait in the queue too. Cancelling the asyncio side cancels the pebble
            # future, which stops the worker if the task is already running.
            async with asyncio.timeout(timeout):
                return await asyncio.wrap_future(future)
        except (TimeoutError, concurrent.futures.TimeoutError):
            future.cancel()  # type: ignore[no-untyped-call]
            raise PoolTimeout(f"task exceeded {timeout:.3g}s; worker killed") from None
        except ProcessExpired as exc:
            raise PoolError(f"worker died (exit code {exc.exitcode})") from None
        except concurrent.futures.CancelledError:
            raise asyncio.CancelledError() from None

    def warm(self) -> None:
        """Start the workers now (imports take seconds) instead of on the first file."""
        if self._pool is not None:
            for _ in range(self.workers):
                self._pool.schedule(len, args=(b"",))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.stop()  # type: ignore[no-untyped-call]
            self._pool.join(timeout=5)


async def _run_in_daemon_thread(fn: Callable[..., T], args: tuple[Any, ...],
                                timeout: float) -> T:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def deliver(ok: bool, value: Any) -> None:
        if not future.done():
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def work() -> None:
        try:
            result = fn(*args)
        except BaseException as exc:  # delivered to the awaiting coroutine
            loop.call_soon_threadsafe(deliver, False, exc)
        else:
            loop.call_soon_threadsafe(deliver, True, result)

    threading.Thread(target=work, name="procpool-fallback", daemon=True).start()
    try:
        async with asyncio.timeout(timeout):
            return await future
    except TimeoutError:
        raise PoolTimeout(f"task exceeded {timeout:.3g}s; abandoned (no kill in a "
                          "daemonic process)") from None


_lock = threading.Lock()
_shared: tuple[int, ProcPool] | None = None


def shared_pool(workers: int = 2) -> ProcPool:
    """The process-wide pool; `workers` applies to whichever call builds it first."""
    global _shared
    with _lock:
        if _shared is None or _shared[0] != os.getpid():
            _shared = (os.getpid(), ProcPool(workers))
        return _shared[1]


def close_shared() -> None:
    global _shared
    with _lock:
        if _shared is not None and _shared[0] == os.getpid():
            _shared[1].close()
        _shared = None
