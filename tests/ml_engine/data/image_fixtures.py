"""Tiny image files for importer tests: valid faces in several formats and deliberately broken ones."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def face_array(seed: int = 0, size: int = 16) -> np.ndarray:
    """A deterministic small grayscale image."""
    return np.random.default_rng(seed).integers(0, 256, (size, size), dtype=np.uint8)


def png_bytes(array: np.ndarray | None = None, mode: str = "L") -> bytes:
    image = Image.fromarray(face_array() if array is None else array)
    buffer = io.BytesIO()
    image.convert(mode).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg_bytes(array: np.ndarray | None = None, orientation: int | None = None) -> bytes:
    image = Image.fromarray(face_array() if array is None else array).convert("RGB")
    buffer = io.BytesIO()
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    image.save(buffer, "JPEG", quality=95, exif=exif.tobytes())
    return buffer.getvalue()


def bomb_png_bytes(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels (the data is tiny and wrong)."""
    data = png_bytes()
    ihdr = data[16:29]
    patched = struct.pack(">II", width, height) + ihdr[8:]
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + patched) & 0xFFFFFFFF)
    return data[:16] + patched + crc + data[33:]


def corrupt_png_bytes() -> bytes:
    """A valid PNG signature and header followed by garbage."""
    return png_bytes()[:40] + b"\x00garbage" * 20


def truncated_jpeg_bytes() -> bytes:
    data = jpeg_bytes(face_array(1, 64))
    return data[: len(data) // 2]


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
