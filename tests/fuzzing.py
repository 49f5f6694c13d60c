"""Mutation fuzzing of the parser-facing worker functions, run inside the process pool.

Kept free of pytest so that pool workers can import it. Each batch mutates seed files
deterministically (case number = random seed), calls the production worker function
and records anything that escaped it and the slowest case.
"""

from __future__ import annotations

import random
import time
from typing import Any

from service import unpack
from service.scanners import office, pdf

INTERESTING = (b"\x00", b"\xff", b"\x7f", b"\x80", b"\xff\xff\xff\xff", b"\x00\x00\x00\x80",
               b"obj", b"endobj", b"stream", b"/Length 99999999", b"PK\x03\x04",
               b"<Relationship TargetMode=\"External\" Type=\"x/attachedTemplate\"", b"(",
               b"<<", b">>", b"DDEAUTO", b"Sub AutoOpen()", b"9" * 12)


def mutate(rnd: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rnd.randint(1, 8)):
        op = rnd.randrange(6)
        pos = rnd.randrange(len(buf) + 1)
        if op == 0 and buf:  # flip bits
            i = min(pos, len(buf) - 1)
            buf[i] ^= 1 << rnd.randrange(8)
        elif op == 1:  # insert an interesting token
            buf[pos:pos] = rnd.choice(INTERESTING)
        elif op == 2:  # delete a run
            del buf[pos:pos + rnd.randint(1, 64)]
        elif op == 3:  # duplicate a run
            run = buf[pos:pos + rnd.randint(1, 256)]
            buf[pos:pos] = run * rnd.randint(1, 4)
        elif op == 4:  # truncate
            del buf[pos:]
        else:  # overwrite with random bytes
            buf[pos:pos + 4] = rnd.randbytes(4)
    return bytes(buf)


def _target(kind: str, data: bytes) -> Any:
    caps = (4 * 1024 * 1024, 50, 1024 * 1024, 1)
    if kind in unpack.KINDS:
        return unpack.unpack(kind, data, (("fuzz", "body part 1"),), caps)
    if kind == "office-scan":
        return office.analyze(data, "low")
    if kind == "pdf-scan":
        return pdf.analyze(data, 10, 10)
    raise ValueError(kind)


def _plain(value: Any) -> bool:
    if isinstance(value, tuple):
        return all(_plain(v) for v in value)
    return isinstance(value, str | bytes | int)


def batch(seeds: tuple[tuple[str, bytes], ...], start: int,
          count: int) -> tuple[int, float, tuple[str, ...]]:
    """(cases run, slowest case in seconds, what escaped or was not plain data)."""
    escapes: list[str] = []
    slowest = 0.0
    for case in range(start, start + count):
        rnd = random.Random(case)
        kind, seed = rnd.choice(seeds)
        data = mutate(rnd, seed)
        began = time.perf_counter()
        try:
            out = _target(kind, data)
            if not _plain(out):
                escapes.append(f"case {case} ({kind}): non-plain result {type(out).__name__}")
        except BaseException as exc:  # the point: record whatever escaped
            escapes.append(f"case {case} ({kind}): {type(exc).__name__}: {exc}"[:300])
        slowest = max(slowest, time.perf_counter() - began)
    return count, slowest, tuple(escapes[:20])
