"""Hostile files refused by limit, before they cost memory or disk: long lines, huge fields, bombs."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from ml_engine.data import decoding
from ml_engine.data.decoding import ImageDecodeError, decode_grayscale
from ml_engine.data.importers import UnsafeArchiveError, load_dataset, safe_zip
from ml_engine.data.importers.ferplus import load_ferplus
from ml_engine.data.importers.rafdb import load_rafdb
from ml_engine.data.importers.text_limits import MAX_FIELD_CHARS, MAX_LINE_CHARS, bounded_lines
from tests.ml_engine.data.image_fixtures import bomb_png_bytes, face_array, png_bytes

LINE_LIMIT = f"longer than the limit of {MAX_LINE_CHARS} characters"


def test_a_single_huge_line_refuses_the_csv_and_names_the_limit(tmp_path):
    path = tmp_path / "one-line.csv"
    path.write_text("emotion,pixels,Usage\n0," + "1 " * (MAX_LINE_CHARS // 2 + 10) + ",Training\n")
    with pytest.raises(ValueError, match=f"one-line.csv: line 2 is {LINE_LIMIT}"):
        load_dataset(path)


def test_a_huge_header_without_any_newline_is_refused_on_line_1(tmp_path):
    path = tmp_path / "no-newline.csv"
    path.write_text("x" * (MAX_LINE_CHARS + 1))
    with pytest.raises(ValueError, match=f"line 1 is {LINE_LIMIT}"):
        load_dataset(path)


def test_a_quoted_field_spanning_many_short_lines_is_held_to_the_field_limit(tmp_path):
    path = tmp_path / "field.csv"
    field = ("9 " * 500 + "\n") * (MAX_FIELD_CHARS // 1000 + 2)
    path.write_text(f'emotion,pixels,Usage\n0,"{field}",Training\n')
    with pytest.raises(
        ValueError, match=f"has a field longer than the limit of {MAX_FIELD_CHARS} characters"
    ):
        load_dataset(path)


def test_lines_within_the_limit_are_read_whole():
    handle = io.StringIO("ab\ncd\n" + "e" * 10)
    assert list(bounded_lines(handle, "s", max_chars=10)) == ["ab\n", "cd\n", "e" * 10]
    with pytest.raises(ValueError, match="s: line 1 is longer than the limit of 2 characters"):
        list(bounded_lines(io.StringIO("abc"), "s", max_chars=2))


def test_ferplus_label_csv_with_a_huge_line_is_refused(tmp_path):
    folder = tmp_path / "FER2013Train"
    folder.mkdir()
    (folder / "label.csv").write_text("a.png," + "x" * MAX_LINE_CHARS + "\n")
    with pytest.raises(ValueError, match=f"FER2013Train/label.csv: line 1 is {LINE_LIMIT}"):
        load_ferplus(tmp_path)


def test_rafdb_list_with_a_huge_line_is_refused(tmp_path):
    (tmp_path / "EmoLabel").mkdir()
    (tmp_path / "EmoLabel" / "list_patition_label.txt").write_text("train_1.jpg " + "7" * MAX_LINE_CHARS)
    with pytest.raises(ValueError, match=f"list_patition_label.txt: line 1 is {LINE_LIMIT}"):
        load_rafdb(tmp_path)


def test_an_image_over_the_pixel_limit_is_refused_from_its_header():
    assert decoding.MAX_IMAGE_PIXELS == 4096 * 4096
    with pytest.raises(ImageDecodeError, match="4097x4096 pixels, more than the limit of 16777216"):
        decode_grayscale(bomb_png_bytes(4097, 4096))


def test_a_half_transparent_gray_face_blends_halfway_to_white():
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[..., :3] = 100
    rgba[..., 3] = 128  # 100 * 128/255 + 255 * 127/255 = 177.2
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG")
    assert decode_grayscale(buffer.getvalue()).tolist() == [[177, 177], [177, 177]]


def _zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_a_high_ratio_archive_is_refused_before_a_byte_is_written(tmp_path):
    path = _zip(tmp_path / "bomb.zip", {"a.png": png_bytes(), "zeros.png": bytes(20 * 1024**2)})
    destination = tmp_path / "out"
    with pytest.raises(UnsafeArchiveError, match="more than the limit of 100-fold"):
        load_dataset(path, extract_to=destination)
    assert list(destination.rglob("*")) == []


def test_a_member_over_the_per_file_limit_is_skipped_unwritten(tmp_path, monkeypatch):
    monkeypatch.setattr(safe_zip, "MAX_MEMBER_BYTES", 4096)
    big = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    path = _zip(tmp_path / "big.zip", {"faces/ok.png": png_bytes(face_array(1, 20)), "faces/big.png": big})
    destination = tmp_path / "out"
    dataset = load_dataset(path, extract_to=destination)
    assert dataset.names == ["faces/ok.png"]
    reasons = {p.source: p.reason for p in dataset.problems}
    assert reasons == {
        "faces/big.png": "5000 bytes once extracted, more than the limit of 4096 per file; skipped"
    }
    assert not (destination / "faces" / "big.png").exists()


def test_a_member_name_too_long_for_the_file_system_is_skipped(tmp_path):
    long_name = "é" * 200 + ".png"  # 404 bytes in UTF-8
    path = _zip(tmp_path / "names.zip", {"ok.png": png_bytes(face_array(2, 20)), long_name: png_bytes()})
    dataset = load_dataset(path, extract_to=tmp_path / "out")
    assert dataset.names == ["ok.png"]
    assert [(p.source, p.reason) for p in dataset.problems] == [
        (long_name, "a name in the path is longer than the limit of 255 bytes; skipped")
    ]
