"""`trawler scan`: scan .eml files or folders of them, one JSON line per message.

Work is split across processes (one per core by default): parsing is pure Python and
holds the GIL, so threads would not help. Each worker compiles the rules once.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

from service.config import Settings
from service.engine import Engine, ScanResult, result_json
from service.rules import RuleError, compile_rules

MESSAGE_SUFFIXES = (".eml", ".msg", ".txt", "")
_CHUNK = 16
WINDOW = 4  # messages in flight per process

_engine: Engine | None = None
_loop: asyncio.AbstractEventLoop | None = None


def iter_paths(paths: list[str]) -> Iterator[str]:
    """Files as given; folders walked recursively in a stable order, dotfiles skipped."""
    for p in paths:
        if os.path.isdir(p):
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for f in sorted(filenames):
                    if not f.startswith("."):
                        yield os.path.join(dirpath, f)
        else:
            yield p


def _init_worker(settings_json: str) -> None:
    global _engine, _loop
    _engine = Engine(Settings.model_validate_json(settings_json))
    _engine.load_rules()
    _loop = asyncio.new_event_loop()


async def scan_window(engine: Engine, raws: list[bytes], window: int = WINDOW
                      ) -> list[ScanResult]:
    """Scan several messages at once, results in input order: while YARA matches one
    message in a thread (it releases the GIL), the next one is parsed."""
    sem = asyncio.Semaphore(window)

    async def one(raw: bytes) -> ScanResult:
        async with sem:
            return await engine.scan_raw(raw)

    return list(await asyncio.gather(*(one(raw) for raw in raws)))


def _scan_paths(engine: Engine, loop: asyncio.AbstractEventLoop, paths: list[str]) -> list[str]:
    # One loop per process, reused: asyncio.run() per message would cost more than YARA.
    lines: list[str | None] = []
    raws: list[bytes] = []
    readable: list[str] = []
    for path in paths:
        try:
            raws.append(Path(path).read_bytes())
        except OSError as exc:
            lines.append(json.dumps({"path": path, "error": f"cannot read: {exc.strerror}"}))
            continue
        lines.append(None)
        readable.append(path)
    results = iter(loop.run_until_complete(scan_window(engine, raws)))
    paths_iter = iter(readable)
    return [line if line is not None
            else json.dumps(result_json(next(results), next(paths_iter)), ensure_ascii=False)
            for line in lines]


def batch_settings(settings: Settings) -> Settings:
    """YARA in threads for batch scans, unless the config says otherwise."""
    yara_opts = settings.scanners.get("yara")
    if yara_opts is None or "inline_max_bytes" in yara_opts:
        return settings
    scanners = {**settings.scanners, "yara": {**yara_opts, "inline_max_bytes": 0}}
    return settings.model_copy(update={"scanners": scanners})


def _worker(paths: list[str]) -> list[str]:
    assert _engine is not None and _loop is not None
    return _scan_paths(_engine, _loop, paths)


def _chunks(paths: Iterator[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for p in paths:
        chunk.append(p)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def run_scan(settings: Settings, paths: list[str], jobs: int, summary: bool,
             out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    settings = batch_settings(settings)
    started = time.perf_counter()
    try:
        # Compile once here first: a broken rule must stop the scan with its file and
        # line, not make every pool worker die in its initializer and respawn forever.
        compile_rules(Path(settings.rules))
    except RuleError as exc:
        err.write(f"trawler: {exc}\n")
        return 2
    counts: Counter[str] = Counter()
    batches: Iterable[list[str]]
    if jobs <= 1:
        engine = Engine(settings)
        engine.load_rules()
        loop = asyncio.new_event_loop()
        batches = (_scan_paths(engine, loop, c) for c in _chunks(iter_paths(paths), 256))
        pool = None
    else:
        ctx = multiprocessing.get_context("forkserver")
        pool = ctx.Pool(jobs, initializer=_init_worker,
                        initargs=(settings.model_dump_json(),))
        batches = pool.imap(_worker, _chunks(iter_paths(paths), _CHUNK))
    try:
        for lines in batches:
            for line in lines:
                out.write(line + "\n")
                if summary:
                    counts[json.loads(line).get("verdict", "error")] += 1
    finally:
        if pool is not None:
            # Every result is in by now; a worker may still hold an abandoned thread
            # (a timed-out task on a hostile file), so end workers instead of joining.
            pool.terminate()
            pool.join()
        else:
            loop.close()
    out.flush()
    if summary:
        total = sum(counts.values())
        elapsed = time.perf_counter() - started
        err.write(json.dumps({
            "summary": {
                "messages": total,
                **{k: counts.get(k, 0) for k in ("clean", "suspicious", "malicious", "error")},
                "flagged": counts.get("suspicious", 0) + counts.get("malicious", 0),
                "elapsed_s": round(elapsed, 3),
                "msgs_per_s": round(total / elapsed, 1) if elapsed > 0 else None,
                "jobs": jobs,
            }
        }) + "\n")
    return 0
