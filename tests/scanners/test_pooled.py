"""A hung or crashing analyser becomes a finding on its attachment, never an exception."""

from __future__ import annotations

import os
import time

import pytest

from service.config import Limits
from service.model import Code
from service.scanners import pooled
from service.scanners.base import ScanContext
from tests.factories import attachment


def _hang(data: bytes) -> pooled.Events:
    time.sleep(60)
    return ()


def _boom(data: bytes) -> pooled.Events:
    raise ValueError("hostile bytes")


def _die(data: bytes) -> pooled.Events:
    os._exit(3)


def _ok(data: bytes, tag: str) -> pooled.Events:
    return (("pdf_uri", "low", (f"{tag}:{len(data)}",)),)


async def test_timeout_error_and_success() -> None:
    ctx = ScanContext(limits=Limits(scanner_timeout_s=1.0))
    att = attachment(b"%PDF-1.7", filename="x.pdf", part_id="3")
    started = time.monotonic()
    events, failed = await pooled.analyse("pdf", ctx, att, _hang)
    assert time.monotonic() - started < 30
    assert events == () and [(f.code, f.part) for f in failed] == [
        (Code.SCANNER_TIMEOUT, "3")]
    events, failed = await pooled.analyse("pdf", ctx, att, _die)
    assert events == () and [f.code for f in failed] == [Code.SCANNER_ERROR]
    # An analyser's own exception is a bug in it: it reaches the dispatcher, which
    # records scanner_error for the scanner (tests/test_dispatch.py).
    with pytest.raises(ValueError, match="hostile bytes"):
        await pooled.analyse("pdf", ctx, att, _boom)
    events, failed = await pooled.analyse("pdf", ctx, att, _ok, "t")
    assert (events, failed) == ((("pdf_uri", "low", ("t:8",)),), [])
