"""The one atomic file write: a writer that fails leaves the old file or none, never a prefix."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from ml_engine import atomic_write
from ml_engine.atomic_write import atomic_path, atomic_zip, write_bytes_atomically, write_text_atomically


class WriterCrashed(RuntimeError):
    pass


def _crash_half_way(path: Path) -> None:
    with open(path, "wb") as handle:
        handle.write(b"half of the new ")
        handle.flush()
        raise WriterCrashed


def test_a_writer_that_crashes_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "model.pt"
    target.write_bytes(b"old model")
    with pytest.raises(WriterCrashed), atomic_path(target) as temporary:
        _crash_half_way(temporary)
    assert target.read_bytes() == b"old model"
    assert os.listdir(tmp_path) == ["model.pt"]


def test_a_writer_that_crashes_before_any_file_existed_leaves_none(tmp_path: Path) -> None:
    target = tmp_path / "new" / "scores.npz"
    with pytest.raises(WriterCrashed), atomic_path(target) as temporary:
        _crash_half_way(temporary)
    assert not target.exists()
    assert os.listdir(tmp_path / "new") == []


def test_the_new_file_appears_only_after_the_block_and_replaces_the_old(tmp_path: Path) -> None:
    target = tmp_path / "labels.csv"
    target.write_text("old\n")
    with atomic_path(target) as temporary:
        temporary.write_text("new\n")
        assert temporary.parent == tmp_path and temporary.name.startswith(".labels.csv.")
        assert target.read_text() == "old\n"
    assert target.read_text() == "new\n"
    assert os.listdir(tmp_path) == ["labels.csv"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_data_and_folder_are_flushed_before_and_after_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor: int) -> None:
        events.append("fsync folder" if os.path.isdir(f"/proc/self/fd/{descriptor}") else "fsync file")
        real_fsync(descriptor)

    def replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        events.append("replace")
        real_replace(source, target)

    monkeypatch.setattr(atomic_write.os, "fsync", fsync)
    monkeypatch.setattr(atomic_write.os, "replace", replace)
    write_bytes_atomically(tmp_path / "face.png", b"png")
    if os.path.isdir("/proc/self/fd"):
        assert events == ["fsync file", "replace", "fsync folder"]
    else:
        assert events[:2] == ["fsync file", "replace"]


def test_a_failed_rename_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "metadata.json"
    target.write_text("{}")

    def disk_full(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(atomic_write.os, "replace", disk_full)
    with pytest.raises(OSError, match="disk full"):
        write_text_atomically(target, '{"count": 3}')
    assert target.read_text() == "{}"
    assert os.listdir(tmp_path) == ["metadata.json"]


def test_a_zip_appears_whole_with_stored_members(tmp_path: Path) -> None:
    target = tmp_path / "faces.zip"
    with atomic_zip(target) as archive:
        archive.writestr("a/labels.csv", "file,label\n")
        assert not target.exists()
    with zipfile.ZipFile(target) as archive:
        assert archive.read("a/labels.csv") == b"file,label\n"
        assert [member.compress_type for member in archive.infolist()] == [zipfile.ZIP_STORED]


def test_a_zip_writer_that_crashes_leaves_the_old_zip_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "faces.zip"
    target.write_bytes(b"old zip")
    with pytest.raises(WriterCrashed), atomic_zip(target) as archive:
        archive.writestr("labels.csv", "file,label\n")
        raise WriterCrashed
    assert target.read_bytes() == b"old zip"
    assert os.listdir(tmp_path) == ["faces.zip"]
