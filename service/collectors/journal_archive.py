"""Re-read the journal of the last N days for retro-hunt: the journal mailbox is the archive.

Separate from the intake collectors on purpose: it never moves a checkpoint, never
marks or moves a message (IMAP fetches BODY.PEEK[] on a read-only SELECT; Maildir
files are only read), so it can run beside live intake at any time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from service.collectors.imap_common import ImapEndpoint, open_session, safe_logout, select
from service.collectors.maildir_fs import read_all
from service.config import CollectorConfig, ConfigError, read_secret

MAX_BYTES = 64 * 1024 * 1024
BATCH = 20


@dataclass(frozen=True, slots=True)
class Archived:
    ref: str
    raw: bytes = field(repr=False)
    received_at: float


def _maildir_files(root: Path, since: float) -> list[tuple[float, Path]]:
    found = []
    for sub in ("cur", "new"):
        try:
            entries = list(os.scandir(root / sub))
        except FileNotFoundError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if entry.is_file(follow_symlinks=False) and st.st_mtime >= since:
                found.append((st.st_mtime, Path(entry.path)))
    return sorted(found)


async def read_maildir(path: str | os.PathLike[str], since: float,
                       max_bytes: int = MAX_BYTES) -> AsyncIterator[Archived]:
    """Files in cur/ and new/ modified since `since`, oldest first."""
    for mtime, file in await asyncio.to_thread(_maildir_files, Path(path), since):
        try:
            raw = await asyncio.to_thread(read_all, file, max_bytes)
        except OSError:
            continue  # moved or deleted meanwhile: it is not in the archive any more
        yield Archived(ref=file.name, raw=raw, received_at=mtime)


async def read_imap(cfg: CollectorConfig, since: float,
                    max_bytes: int = MAX_BYTES) -> AsyncIterator[Archived]:
    """UID SEARCH SINCE <date> on a read-only SELECT, then BODY.PEEK[] in small batches."""
    password = read_secret(cfg.password_env, cfg.password_file)
    if not cfg.host or not cfg.username or password is None:
        raise ConfigError(f"collectors[{cfg.name}]: retro-hunt needs host, username, password")
    endpoint = ImapEndpoint(cfg.host, cfg.port or (993 if cfg.tls == "ssl" else 143), cfg.tls,
                            cfg.tls_verify)
    client = await asyncio.to_thread(open_session, endpoint, cfg.username, password)
    try:
        await asyncio.to_thread(select, client, cfg.folder, readonly=True)
        day = dt.datetime.fromtimestamp(since, dt.UTC).date()
        uids = sorted(await asyncio.to_thread(client.search, ["SINCE", day]))
        for i in range(0, len(uids), BATCH):
            batch = uids[i:i + BATCH]
            data = await asyncio.to_thread(
                client.fetch, batch, [f"BODY.PEEK[]<0.{max_bytes}>", "INTERNALDATE"])
            for uid in batch:
                item = data.get(uid, {})
                raw = item.get(b"BODY[]<0>") or item.get(b"BODY[]")
                when = item.get(b"INTERNALDATE")
                ts = when.timestamp() if isinstance(when, dt.datetime) else since
                if isinstance(raw, bytes) and ts >= since - 86400:
                    yield Archived(ref=f"uid:{uid}", raw=raw, received_at=ts)
    finally:
        await asyncio.to_thread(safe_logout, client)


def read_since(cfg: CollectorConfig, since: float) -> AsyncIterator[Archived]:
    if cfg.type == "maildir":
        if not cfg.path:
            raise ConfigError(f"collectors[{cfg.name}]: maildir needs a path")
        return read_maildir(cfg.path, since)
    if cfg.type == "imap":
        return read_imap(cfg, since)
    raise ConfigError(f"collectors[{cfg.name}]: retro-hunt cannot re-read a {cfg.type} journal")
