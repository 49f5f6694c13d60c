"""Property: parse() never raises on structured-but-broken MIME (10,000 examples)."""

from __future__ import annotations

import base64
import quopri
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.config import Limits
from service.mime import parse
from service.model import ParsedMessage

# Small limits so the limit paths run too, and each example stays cheap.
LIMITS = Limits(max_message_bytes=20_000, max_part_bytes=2_000, max_depth=3,
                max_attachments=5)

NAMES = ["From", "To", "Cc", "Subject", "Message-ID", "Date", "Content-Type",
         "Content-Transfer-Encoding", "Content-Disposition", "X-MS-Journal-Report",
         "Delivered-To", "Return-Path", "MIME-Version", "X-Junk"]
CTYPES = ["text/plain", "text/html", "multipart/mixed", "multipart/alternative",
          "message/rfc822", "application/pdf", "application/octet-stream", "image/png",
          "multipart/", "text/", "", "garbage"]
CHARSETS = ["utf-8", "latin-1", "x-unknown", "zlib", "utf-16", "", "\xff", "punycode"]
CTES = ["base64", "quoted-printable", "7bit", "binary", "x-uuencode", "8bit", "bogus", ""]
BOUNDARY_CHARS = "abcXYZ019'()+_,-./:=? "
NEWLINES = [b"\r\n", b"\n", b"\r", b""]


def _text(rnd: random.Random, size: int = 30) -> str:
    return "".join(chr(rnd.choice((rnd.randrange(32, 127), rnd.randrange(0, 0x800))))
                   for _ in range(rnd.randrange(size)))


def _value(rnd: random.Random) -> str:
    pick = rnd.randrange(3)
    if pick == 0:
        return _text(rnd)
    if pick == 1:
        return f"=?{rnd.choice(CHARSETS)}?{rnd.choice('BQX')}?{_text(rnd, 12)}?="
    return (f'{rnd.choice(CTYPES)}; charset="{rnd.choice(CHARSETS)}"; '
            f"boundary={_text(rnd, 8)}; filename*=utf-8''%ff{_text(rnd, 8)}")


def _encode(body: bytes, cte: str) -> bytes:
    if cte == "base64":
        return base64.encodebytes(body)
    if cte == "quoted-printable":
        return quopri.encodestring(body)
    return body


def entity(rnd: random.Random, depth: int = 0) -> bytes:
    """A MIME entity: plausible structure, broken in random places."""
    nl = rnd.choice(NEWLINES) if rnd.random() < 0.2 else b"\r\n"
    lines = [f"{rnd.choice(NAMES)}: {_value(rnd)}".encode("utf-8", "surrogatepass")
             for _ in range(rnd.randrange(4))]
    ctype, cte = rnd.choice(CTYPES), rnd.choice(CTES)
    boundary = "".join(rnd.choice(BOUNDARY_CHARS) for _ in range(rnd.randrange(10)))
    lines.append(f'Content-Type: {ctype}; boundary="{boundary}"; '
                 f"charset={rnd.choice(CHARSETS)}".encode("utf-8", "surrogatepass"))
    lines.append(f"Content-Transfer-Encoding: {cte}".encode())
    if rnd.random() < 0.3:
        lines.append(b"Content-Disposition: attachment; filename=" + rnd.randbytes(8))
    if rnd.random() < 0.1:  # a folded continuation full of markup
        lines.append(b' <a href="https://x.example/">;"&amp;;' * rnd.randrange(1, 20))
    head = nl.join(lines) + nl * rnd.randrange(3)
    if ctype.startswith("multipart") and depth < 4:
        delim = b"--" + boundary.encode()
        body = b"".join(delim + nl + entity(rnd, depth + 1) + nl
                        for _ in range(rnd.randrange(4)))
        if rnd.random() < 0.7:
            body += delim + b"--" + nl
    elif ctype == "message/rfc822" and depth < 4:
        body = entity(rnd, depth + 1)
    else:
        body = rnd.randbytes(rnd.randrange(80)) if rnd.random() < 0.5 else \
            _text(rnd, 80).encode("utf-8", "surrogatepass")
        body = _encode(body, cte)
    return head + body


def message(seed: int, noise: bytes) -> bytes:
    rnd = random.Random(seed)
    kind = rnd.randrange(10)
    if kind == 0:
        return noise
    raw = entity(rnd)
    if kind == 1:
        raw = b"From x@y Mon Jan  1 00:00:00 2024\n" + raw
    if kind == 2 and raw:  # splice the noise in anywhere
        at = rnd.randrange(len(raw))
        raw = raw[:at] + noise + raw[at:]
    if kind == 3 and raw:  # truncate anywhere
        raw = raw[:rnd.randrange(len(raw))]
    if kind == 4 and len(raw) > 60:  # nesting and size limits
        raw = raw * rnd.randrange(2, 8)
    return raw


@settings(max_examples=10_000, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(st.integers(0, 2**32), st.binary(max_size=64))
def test_parse_never_raises(seed: int, noise: bytes) -> None:
    pm = parse(message(seed, noise), LIMITS)
    assert isinstance(pm, ParsedMessage)
    assert len(pm.attachments) <= LIMITS.max_attachments
    assert all(a.size >= 0 for a in pm.attachments)
    assert all(len(e) <= 200 for f in pm.findings for e in f.evidence)
    # The last-resort catch in parse() must not be what kept it from raising.
    assert not any(e.startswith("parser failed") for f in pm.findings for e in f.evidence)


def test_generator_makes_structured_messages() -> None:
    """The generator is not just noise: most examples parse into parts."""
    parsed = [parse(message(seed, b"noise"), LIMITS) for seed in range(200)]
    assert sum(bool(p.bodies or p.attachments) for p in parsed) > 100
    assert sum(bool(p.findings) for p in parsed) > 20
