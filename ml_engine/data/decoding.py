"""Robust image decoding: EXIF orientation, grayscale, and a decompression-bomb limit."""

from __future__ import annotations

import io
import os
import warnings

import numpy as np
from PIL import Image, ImageOps

MAX_IMAGE_PIXELS = 40_000_000
"""Refuse images with more pixels than this: a face crop never needs more, a bomb always does."""


class ImageDecodeError(ValueError):
    """An image could not be decoded; the message says why in words a user can act on."""


def decode_grayscale(source: str | os.PathLike[str] | bytes) -> np.ndarray:
    """Decode a file path or raw bytes into a grayscale ``uint8`` array, upright per EXIF.

    Raises:
        ImageDecodeError: when the file is missing, corrupt, not an image, or too large.
    """
    try:
        stream = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")  # noqa: SIM115
    except OSError as error:
        raise ImageDecodeError(f"cannot open: {error.strerror or error}") from error
    with stream, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(stream) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise ImageDecodeError(
                        f"image is {width}x{height} pixels, more than the limit of {MAX_IMAGE_PIXELS}"
                    )
                image.load()
                upright = ImageOps.exif_transpose(image)
                return np.asarray(upright.convert("L"), dtype=np.uint8)
        except ImageDecodeError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise ImageDecodeError(f"decompression bomb refused: {error}") from error
        except (OSError, SyntaxError, ValueError) as error:
            raise ImageDecodeError(f"not a readable image: {error}") from error


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """Resize a grayscale face to ``size`` x ``size`` (bilinear; faces are pre-cropped)."""
    return np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR), dtype=np.uint8)
