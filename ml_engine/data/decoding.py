"""Robust image decoding: EXIF orientation, any pixel mode to grayscale, a decompression-bomb limit.

Users bring faces as JPEGs from phones (rotated by an EXIF tag), PNGs with transparency,
16-bit scans, palette GIFs and the occasional broken file. Every importer decodes through
:func:`decode_grayscale`, which either returns an upright ``uint8`` grayscale array or raises
:class:`ImageDecodeError` with a reason a user can act on, so one bad file becomes one entry
in ``FaceDataset.problems`` instead of a crash.
"""

from __future__ import annotations

import io
import os
import warnings
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps

MAX_IMAGE_PIXELS = 4096 * 4096
"""Refuse images with more pixels than this (16.8 MP), checked from the header before decoding.

Faces are stored at most 256 px wide and train at 48 px, so a larger image only costs memory:
decoding one at the limit as RGBA takes 64 MiB for the pixels and about twice that in all,
while a 12 MP phone photo still fits. A decompression bomb never does.
"""

ALPHA_BACKGROUND = 255
"""Gray level that transparent pixels are composited onto (white, as image viewers show them)."""


class ImageDecodeError(ValueError):
    """An image could not be decoded; the message says why in words a user can act on."""


def decode_grayscale(source: str | os.PathLike[str] | bytes) -> np.ndarray:
    """Decode a file path or raw bytes into a grayscale ``uint8`` array, upright per EXIF.

    The pixel count is checked from the header before any pixel is decoded, so a
    decompression bomb costs nothing. Multi-frame files (GIF, TIFF) give their first frame.

    Raises:
        ImageDecodeError: when the file is missing, empty, corrupt, truncated, not an image,
            or larger than :data:`MAX_IMAGE_PIXELS`.
    """
    if isinstance(source, bytes):
        stream: BinaryIO = io.BytesIO(source)
    else:
        try:
            stream = open(source, "rb")  # noqa: SIM115 - closed by the with-block below
        except OSError as error:
            raise ImageDecodeError(f"cannot open: {error.strerror or error}") from error
    with stream, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        if stream.seek(0, io.SEEK_END) == 0:
            raise ImageDecodeError("empty file (0 bytes)")
        stream.seek(0)
        try:
            with Image.open(stream) as image:
                _check_size(image)
                image.load()
                ImageOps.exif_transpose(image, in_place=True)  # a copy of the pixels otherwise
                return to_grayscale(image)
        except ImageDecodeError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise ImageDecodeError(f"decompression bomb refused: {error}") from error
        except Image.UnidentifiedImageError:
            stream.seek(0)
            kind = _format_from_signature(stream.read(16))
            if kind is not None:
                raise ImageDecodeError(
                    f"corrupt or truncated {kind} file (its header is unreadable)"
                ) from None
            raise ImageDecodeError("not an image (unknown file format)") from None
        except (OSError, SyntaxError, ValueError, EOFError) as error:
            raise ImageDecodeError(f"corrupt or truncated image: {error}") from error


_SIGNATURES = (
    (b"\x89PNG", "PNG"),
    (b"\xff\xd8", "JPEG"),
    (b"GIF8", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


def _format_from_signature(head: bytes) -> str | None:
    """The image format a file claims by its first bytes, so a damaged image is not called 'not an image'."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return next((name for magic, name in _SIGNATURES if head.startswith(magic)), None)


def _check_size(image: Image.Image) -> None:
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageDecodeError(f"image is {width}x{height} pixels, more than the limit of {MAX_IMAGE_PIXELS}")
    if width == 0 or height == 0:
        raise ImageDecodeError(f"image has no pixels ({width}x{height})")


def to_grayscale(image: Image.Image) -> np.ndarray:
    """Convert a decoded image of any mode to ``uint8`` luminance (ITU-R 601-2 weights).

    Why not just ``convert("L")``: Pillow clips 16- and 32-bit integer images to 0-255 instead
    of rescaling them (a 16-bit scan turns white), and it ignores alpha, so transparent
    pixels would show whatever colour they happen to store. Here high-bit-depth images are
    rescaled by their nominal range and alpha is composited onto :data:`ALPHA_BACKGROUND`.
    """
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return (np.asarray(image, dtype=np.uint16) >> 8).astype(np.uint8)
    if mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if values.max(initial=0) > 255 else 255.0
        return np.clip(np.rint(values * (255.0 / top)), 0, 255).astype(np.uint8)
    if mode == "LA":
        return _over_background(image.getchannel("L"), image.getchannel("A"))
    if mode == "P" or mode == "PA" or mode in ("La", "RGBa"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        return _over_background(image.convert("L"), image.getchannel("A"))
    return np.asarray(image.convert("L"), dtype=np.uint8)


def _over_background(gray: Image.Image, alpha: Image.Image) -> np.ndarray:
    """Composite luminance onto :data:`ALPHA_BACKGROUND` by alpha, in one-byte planes.

    Luminance is linear in the colour channels, so blending the gray plane equals blending
    each colour and then weighting them (up to rounding), at a quarter of the memory of an
    RGBA composite: a 16 MP RGBA image needs three 16 MiB planes here instead of two more
    64 MiB images.
    """
    background = Image.new("L", gray.size, ALPHA_BACKGROUND)
    return np.asarray(Image.composite(gray, background, alpha), dtype=np.uint8)


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """Resize a grayscale face to ``size`` x ``size`` (bilinear; faces are pre-cropped)."""
    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)
