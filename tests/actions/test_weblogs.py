"""Proxy log parsers, user names and the tail collector."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from service.actions.weblogs import LogTail, Users, parse_files, parse_web

SQUID = (b"1700000000.123    456 10.0.0.5 TCP_MISS/200 1234 GET "
         b"http://login.corp-verify.test/owa/verify?u=1 CORP\\alice DIRECT/1.2.3.4 text/html\n"
         b"1700000001.000    12 10.0.0.6 TCP_TUNNEL/200 99 CONNECT login.corp-verify.test:443 "
         b"bob HIER_DIRECT/1.2.3.4 -\n"
         b"garbage line\n"
         b"1700000002.5 3 10.0.0.7 TCP_MISS/302 10 POST https://login.corp-verify.test/owa "
         b"- DIRECT/1.2.3.4 -\n")

W3C = (b"#Software: SGOS 6.7\n"
       b"#Fields: date time time-taken c-ip cs-username sc-status cs-method cs-uri-scheme "
       b"cs-host cs-uri-port cs-uri-path cs-uri-query cs(User-Agent)\n"
       b'2023-11-14 22:13:20 5 10.0.0.9 carol@corp.example 200 POST https '
       b'login.corp-verify.test 443 /owa/verify ?u=1 "Mozilla/5.0 (X11; Linux)"\n'
       b"2023-11-14 22:13:21 5 10.0.0.9 - 200 GET http intranet 80 / - -\n")


def test_squid_native() -> None:
    events, invalid = parse_web(SQUID, "squid")
    assert [(e.user, e.method, e.url, e.status, e.client_ip) for e in events] == [
        ("CORP\\alice", "GET", "http://login.corp-verify.test/owa/verify?u=1", 200, "10.0.0.5")]
    assert events[0].ts == 1700000000.123
    assert invalid == 3  # CONNECT (no path), garbage, no user


def test_w3c_elff_with_fields_header() -> None:
    events, invalid = parse_web(W3C, "w3c")
    assert len(events) == 1 and invalid == 1
    e = events[0]
    assert (e.user, e.method, e.url, e.status) == (
        "carol@corp.example", "POST", "https://login.corp-verify.test/owa/verify?u=1", 200)
    assert e.ts == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC).timestamp()


def test_json_lines_and_file_events_reject_bad_lines() -> None:
    events, invalid = parse_web(b'{"ts":"2023-11-14T22:13:20Z","user":"a","url":"http://x/"}\n'
                                b'{"ts":1,"user":"a"}\n[1]\n\n{"ts":true,"user":"a","url":"u"}')
    assert len(events) == 1 and invalid == 3
    files, bad = parse_files(b'{"ts":1,"user":"d","sha256":"' + b"a" * 64 + b'"}\n'
                             b'{"ts":1,"user":"d","sha256":"xyz"}')
    assert len(files) == 1 and bad == 1


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from(["json", "squid", "w3c"]))
def test_parsers_never_raise(body: bytes, fmt: str) -> None:
    events, invalid = parse_web(body, fmt)
    assert invalid >= 0 and all(e.user and e.url for e in events)


def test_user_names_become_one_spelling(tmp_path: Path) -> None:
    aliases = tmp_path / "aliases.yaml"
    aliases.write_text("a.smith: alice@corp.example\n'corp\\asmith': alice@corp.example\n")
    users = Users.from_file(str(aliases), "corp.example")
    assert users.normalize("CORP\\Bob") == "bob@corp.example"
    assert users.normalize("Bob@Corp.Example") == "bob@corp.example"
    assert users.normalize("bob") == "bob@corp.example"
    assert users.normalize("A.Smith") == "alice@corp.example"
    assert users.normalize("CORP\\asmith") == "alice@corp.example"


async def test_tail_follows_appends_and_rotation(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(SQUID)  # existing content is history: not re-sent
    got: list[bytes] = []

    async def ingest(body: bytes, fmt: str) -> None:
        got.append(body)

    tail = LogTail(str(log), "squid", ingest, interval_s=0.01)
    assert await tail.poll_once() == 0
    with log.open("ab") as fh:
        fh.write(SQUID.splitlines(keepends=True)[0] + b"partial")
    assert await tail.poll_once() == 1
    log.rename(tmp_path / "access.log.1")
    log.write_bytes(SQUID.splitlines(keepends=True)[3])
    stop = asyncio.Event()
    task = asyncio.create_task(tail.run(stop))
    for _ in range(100):
        if len(got) == 2:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await task
    assert [len(parse_web(b, "squid")[0]) for b in got] == [1, 0]
    assert b"POST" in got[1]
