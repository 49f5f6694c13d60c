"""JSON-lines logging: one object per line, context from `extra=`, secrets masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from service import logs


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    logs.configure("INFO", stream, environ={
        "TRAWLER_API_TOKEN": "tok-Abc123456", "TRAWLER_JOURNAL_PASSWORD": "pw-Xyz98765",
        "TRAWLER_STATE": "redis://user:redis-Pass42@redis:6379/0", "HOME": "/root"})
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(ln) for ln in stream.getvalue().splitlines()]


def test_one_json_object_per_line_with_context(captured: io.StringIO) -> None:
    log = logging.getLogger("trawler.test")
    log.warning("alert %s: malicious\nverdict", "A-1",
                extra={"alert_id": "A-1", "message_id": "<m@x>", "count": 3})
    [event] = lines(captured)
    assert event["level"] == "warning" and event["logger"] == "trawler.test"
    assert event["msg"] == "alert A-1: malicious\nverdict"  # newline escaped, still one line
    assert event["alert_id"] == "A-1" and event["message_id"] == "<m@x>"
    assert event["count"] == 3
    assert str(event["ts"]).endswith("Z")


def test_exceptions_stay_on_one_line(captured: io.StringIO) -> None:
    try:
        raise ValueError("bad input")
    except ValueError:
        logging.getLogger("t").exception("failed")
    [event] = lines(captured)
    assert "ValueError: bad input" in str(event["exc"])


def test_secret_values_are_masked_wherever_they_appear(captured: io.StringIO) -> None:
    log = logging.getLogger("t")
    log.error("login with pw-Xyz98765 failed", extra={"header": "Bearer tok-Abc123456"})
    try:
        raise ConnectionError("cannot reach redis://user:redis-Pass42@redis:6379/0")
    except ConnectionError:
        log.exception("state")
    text = captured.getvalue()
    for secret in ("pw-Xyz98765", "tok-Abc123456", "redis-Pass42"):
        assert secret not in text
    assert text.count(logs.MASK) >= 3  # the traceback repeats the raising line
    assert logs.secrets_from_env({"HOME": "/root", "TRAWLER_X_TOKEN": "abc"}) == set()


def test_unknown_level_falls_back_to_info(captured: io.StringIO) -> None:
    logs.configure("LOUD", captured, environ={})
    logging.getLogger("t").info("still here")
    assert [e["msg"] for e in lines(captured)][-1] == "still here"
