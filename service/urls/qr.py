"""Read QR (and other 2-D) codes in images: the payloads, so that quishing URLs are seen.

Bounded before any pixel is decoded: the image header gives width and height, and an
image larger than `max_pixels` is skipped, so a decompression bomb costs nothing. Only
the first frame of an animated image is read. Never raises on hostile bytes.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import zxingcpp
from PIL import Image

MAX_PIXELS = 16_000_000
MAX_PAYLOAD_CHARS = 4096
_MIN_SIDE = 21  # the smallest QR code is 21 modules wide
# 2-D codes only: 1-D barcodes carry no URLs and cost decode time.
_FORMATS = zxingcpp.barcode_formats_from_str("QRCode,MicroQRCode,RMQRCode,Aztec,DataMatrix")


def decode(data: bytes, max_pixels: int = MAX_PIXELS) -> list[str]:
    """Text payloads of the 2-D codes in one image; [] for non-images and oversized ones."""
    try:
        return _decode(data, max_pixels)
    except Exception:  # Pillow raises many types on hostile images
        return []


def _decode(data: bytes, max_pixels: int) -> list[str]:

    with warnings.catch_warnings():
        # Our own pixel bound below is tighter; Pillow's bomb warning would be an error.
        warnings.simplefilter("ignore")
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            if width * height > max_pixels or min(width, height) < _MIN_SIDE:
                return []
            img.seek(0)
            gray: Any = img.convert("L")
    results = zxingcpp.read_barcodes(gray, formats=_FORMATS)
    return [r.text[:MAX_PAYLOAD_CHARS] for r in results if r.valid and r.text]


def looks_like_image(content_type: str, filename: str | None, head: bytes) -> bool:
    """Worth handing to `decode`: an image by sniffed type, declared type or magic bytes."""
    if content_type.lower().startswith("image/"):
        return True
    name = (filename or "").lower()
    if name.endswith((".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff")):
        return True
    return head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"RIFF", b"II*\x00",
                            b"MM\x00*"))
