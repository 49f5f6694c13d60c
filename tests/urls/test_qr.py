"""QR decoding: a drawn code reads back; oversized, tiny and broken images cost nothing."""

from __future__ import annotations

import io
import zlib

import zxingcpp
from PIL import Image

from service.urls import qr


def qr_png(text: str, scale: int = 6) -> bytes:
    """A PNG of a QR code, drawn with zxing-cpp's own writer."""
    view = memoryview(zxingcpp.create_barcode(text, zxingcpp.QRCode).to_image(
        scale=scale, add_quiet_zones=True))
    height, width = view.shape[0], view.shape[1]
    img = Image.frombytes("L", (width, height), view.tobytes())
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_reads_back_a_drawn_code() -> None:
    assert qr.decode(qr_png("https://evil.example/q?id=7")) == ["https://evil.example/q?id=7"]


def test_jpeg_and_rgb_images_read_too() -> None:
    img = Image.open(io.BytesIO(qr_png("https://jpeg.example/"))).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    assert qr.decode(buf.getvalue()) == ["https://jpeg.example/"]


def _png_header_claiming(width: int, height: int) -> bytes:
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + b"\x08\x00\x00\x00\x00"
    chunk = b"IHDR" + ihdr
    return (b"\x89PNG\r\n\x1a\n" + len(ihdr).to_bytes(4, "big") + chunk
            + zlib.crc32(chunk).to_bytes(4, "big"))


def test_bounds_and_garbage() -> None:
    assert qr.decode(_png_header_claiming(100_000, 100_000)) == []  # bomb: never decoded
    assert qr.decode(qr_png("https://big.example/"), max_pixels=100) == []
    assert qr.decode(b"\x89PNG\r\n\x1a\nnot really") == []
    assert qr.decode(b"") == []
    assert qr.looks_like_image("application/octet-stream", "scan.PNG", b"")
    assert qr.looks_like_image("application/octet-stream", None, b"\x89PNG\r\n")
    assert not qr.looks_like_image("text/plain", "a.txt", b"hello")
