"""Zip uploads: unsafe members are skipped and reported, bombs refused, the rest imported."""

from __future__ import annotations

import stat
import zipfile

import pytest

from ml_engine.data.importers import UnsafeArchiveError, detect_format, load_dataset
from ml_engine.data.importers.safe_zip import _Budget, _read_chunks, extract_zip, read_image_members
from tests.ml_engine.data.image_fixtures import corrupt_png_bytes, face_array, png_bytes


def _hostile_zip(path):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("faces/good.png", png_bytes(face_array(1, 20)))
        archive.writestr("../evil.png", png_bytes())
        archive.writestr("faces/../../evil2.png", png_bytes())
        archive.writestr("/etc/abs.png", png_bytes())
        archive.writestr("C:\\windows\\abs.png", png_bytes())
        link = zipfile.ZipInfo("faces/link.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
        archive.writestr("inner.zip", b"PK\x03\x04")
        archive.writestr("notes.txt", b"hello")
        archive.writestr("faces/broken.png", corrupt_png_bytes())
        archive.writestr("__MACOSX/faces/._good.png", b"\x00")
    return path


def _reasons(dataset):
    return {problem.source: problem.reason for problem in dataset.problems}


def test_in_memory_import_keeps_the_good_face_and_reports_each_bad_member(tmp_path):
    path = _hostile_zip(tmp_path / "upload.zip")
    assert detect_format(path) == "zip"
    dataset = load_dataset(path, image_size=16)
    assert dataset.names == ["faces/good.png"]
    assert dataset.images.shape == (1, 16, 16)
    assert dataset.splits.tolist() == ["pool"] and dataset.labels.tolist() == [-1]
    reasons = _reasons(dataset)
    assert "'..'" in reasons["../evil.png"] and "'..'" in reasons["faces/../../evil2.png"]
    assert "absolute" in reasons["/etc/abs.png"] and "absolute" in reasons["C:\\windows\\abs.png"]
    assert "symbolic link" in reasons["faces/link.png"]
    assert "nested archive" in reasons["inner.zip"]
    assert "not an image file name" in reasons["notes.txt"]
    assert "corrupt" in reasons["faces/broken.png"]
    assert len(reasons) == 8  # the __MACOSX resource fork is litter, not a face


def test_extraction_writes_nothing_outside_the_destination(tmp_path):
    path = _hostile_zip(tmp_path / "upload.zip")
    destination = tmp_path / "out" / "dest"
    dataset = load_dataset(path, extract_to=destination)
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == [
        "out/dest/faces/broken.png",
        "out/dest/faces/good.png",
        "out/dest/notes.txt",
        "upload.zip",
    ]
    assert not (destination / "faces" / "link.png").exists()
    assert dataset.names == ["faces/good.png"]
    assert dataset.images == [str(destination / "faces" / "good.png")]
    assert "symbolic link" in _reasons(dataset)["faces/link.png"]
    assert "corrupt" in _reasons(dataset)["faces/broken.png"]


def test_extraction_never_overwrites_or_follows_an_existing_file(tmp_path):
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.png", png_bytes())
    destination = tmp_path / "dest"
    destination.mkdir()
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    (destination / "x.png").symlink_to(target)
    problems = extract_zip(path, destination)
    assert "already exists" in problems[0].reason
    assert target.read_text() == "keep me"


def test_zipped_image_folder_keeps_its_labels_when_extracted(tmp_path):
    path = tmp_path / "labeled.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("happy/a.png", png_bytes())
        archive.writestr("sad/b.png", png_bytes())
    dataset = load_dataset(path, extract_to=tmp_path / "x")
    assert dataset.class_names == ("happy", "sad")
    assert dataset.labels.tolist() == [0, 1]


def test_archives_over_the_caps_are_refused_before_reading(tmp_path):
    path = tmp_path / "big.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.png", b"\x00" * 200_000)  # compresses to a few hundred bytes
        archive.writestr("b.png", png_bytes())
    with pytest.raises(UnsafeArchiveError, match="expands to"):
        read_image_members(path, max_total_bytes=100_000)
    with pytest.raises(UnsafeArchiveError, match="2 members, more than the limit of 1"):
        read_image_members(path, max_members=1)


def test_a_member_that_decompresses_past_its_declared_size_is_stopped(tmp_path):
    # Python's zipfile also stops at the declared size (then fails the CRC); either way no more comes out.
    path = tmp_path / "liar.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.png", b"\x00" * 50_000)
    with zipfile.ZipFile(path) as archive:
        info = archive.infolist()[0]
        info.file_size = 1_000  # the header lies
        produced = 0
        with pytest.raises((UnsafeArchiveError, zipfile.BadZipFile)):
            for chunk in _read_chunks(archive, info, _Budget(10**9)):
                produced += len(chunk)
        assert produced <= 1_000


def test_a_file_that_is_not_a_zip_is_a_clear_error(tmp_path):
    path = tmp_path / "fake.zip"
    path.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable zip"):
        load_dataset(path)
