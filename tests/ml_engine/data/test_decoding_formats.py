"""decode_grayscale: every pixel mode to upright uint8 grayscale, every broken file to a clear error."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from ml_engine.data.decoding import ImageDecodeError, decode_grayscale
from tests.ml_engine.data.image_fixtures import (
    bomb_png_bytes,
    corrupt_png_bytes,
    face_array,
    jpeg_bytes,
    png_bytes,
    truncated_jpeg_bytes,
)


def _encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def test_grayscale_png_round_trips_exactly():
    array = face_array(3)
    assert np.array_equal(decode_grayscale(png_bytes(array)), array)


def test_rgb_is_converted_with_luminance_weights():
    rgb = np.zeros((4, 4, 3), dtype=np.uint8)
    rgb[..., 0] = 200  # pure red: L = 0.299 * 200 = 59.8
    decoded = decode_grayscale(_encode(Image.fromarray(rgb)))
    assert decoded.shape == (4, 4)
    assert np.all(decoded == 60)


def test_transparent_pixels_are_composited_onto_white():
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[:2, :, 3] = 255  # top half opaque black, bottom half fully transparent black
    decoded = decode_grayscale(_encode(Image.fromarray(rgba, "RGBA")))
    assert np.all(decoded[:2] == 0)
    assert np.all(decoded[2:] == 255)


def test_sixteen_bit_images_are_rescaled_not_clipped():
    values = np.array([[0, 256, 32768, 65535]], dtype=np.uint16)
    image = Image.fromarray(values)
    assert image.mode.startswith("I;16")
    assert decode_grayscale(_encode(image)).tolist() == [[0, 1, 128, 255]]


def test_palette_image_decodes_to_its_gray_levels():
    image = Image.fromarray(np.array([[0, 255], [255, 0]], dtype=np.uint8)).convert("P")
    assert decode_grayscale(_encode(image, "GIF")).tolist() == [[0, 255], [255, 0]]


def test_exif_rotated_jpeg_comes_out_upright():
    stored = np.zeros((16, 32), dtype=np.uint8)  # 32 wide, 16 tall
    stored[:, 16:] = 255  # right half white
    # Orientation 6: display = stored rotated 90 degrees clockwise, so the white right half ends at the bottom.
    decoded = decode_grayscale(jpeg_bytes(stored, orientation=6))
    assert decoded.shape == (32, 16)
    assert decoded[:12].mean() < 30
    assert decoded[-12:].mean() > 225


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"this is a text file, not a picture\n", "not an image"),
        (corrupt_png_bytes(), "corrupt or truncated"),
        (truncated_jpeg_bytes(), "corrupt or truncated"),
        (bomb_png_bytes(7_000, 7_000), "7000x7000 pixels, more than the limit"),
        (bomb_png_bytes(100_000, 100_000), "decompression bomb refused"),
    ],
    ids=["zero-byte", "text", "corrupt-png", "truncated-jpeg", "header-bomb", "huge-header-bomb"],
)
def test_broken_files_raise_a_reason(data, reason):
    with pytest.raises(ImageDecodeError, match=reason):
        decode_grayscale(data)


def test_missing_file_is_a_decode_error(tmp_path):
    with pytest.raises(ImageDecodeError, match="cannot open"):
        decode_grayscale(tmp_path / "absent.png")
