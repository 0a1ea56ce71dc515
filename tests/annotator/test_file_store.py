"""file_store against a real S3 server: names to local copies (fetched once, whole) and job folders to objects."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotator import file_store


def files_under(folder: Path) -> list[str]:
    return (
        sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
        if folder.exists()
        else []
    )


def test_the_media_folder_is_read_in_place(settings, media_root: Path) -> None:
    assert file_store.is_local()
    file_store.save_bytes("projects/1/faces/ab/ab.png", b"png")
    assert file_store.local_copy("projects/1/faces/ab/ab.png") == media_root / "projects/1/faces/ab/ab.png"
    assert file_store.scratch_folder("projects/1/models/job-3") == media_root / "projects/1/models/job-3"
    assert files_under(Path(settings.FACELOOP_LOCAL_DIR)) == [], "no copy is made"
    assert files_under(media_root) == ["projects/1/faces/ab/ab.png"]


def test_a_remote_file_is_fetched_once_whole_and_reused(s3_storage, settings) -> None:
    names = [f"projects/1/faces/{index:02x}/{index:02x}.png" for index in range(12)]
    for index, name in enumerate(names):
        file_store.save_bytes(name, bytes([index]) * 100)
    local = Path(settings.FACELOOP_LOCAL_DIR)
    assert files_under(local) == [], "storing a face keeps no local copy"

    copies = file_store.local_copies([*names, names[0]])
    assert [path.read_bytes() for path in copies] == [bytes([i]) * 100 for i in range(12)] + [
        bytes([0]) * 100
    ]
    assert files_under(local) == sorted(f"files/{name}" for name in names), "no temporary file is left"

    file_store.storage().delete(names[0])  # gone from the bucket: the cached copy is what is read
    assert file_store.local_copy(names[0]).read_bytes() == bytes([0]) * 100


def test_a_missing_remote_file_raises_and_leaves_nothing(s3_storage, settings) -> None:
    with pytest.raises(FileNotFoundError):
        file_store.local_copy("projects/1/models/job-9/model.pt")
    assert files_under(Path(settings.FACELOOP_LOCAL_DIR)) == []
    with pytest.raises(ValueError, match="not a storage name"):
        file_store.local_copy("projects/1/../../etc/passwd")


def test_a_published_job_folder_is_stored_under_its_names(s3_storage, settings) -> None:
    folder = file_store.scratch_folder("projects/2/exports/job-5")
    (folder / "nested").mkdir(parents=True)
    (folder / "labels.csv").write_text("file,label\n")
    (folder / "nested" / "card.json").write_text("{}")

    names = file_store.publish([folder])

    assert names == ["projects/2/exports/job-5/labels.csv", "projects/2/exports/job-5/nested/card.json"]
    assert all(file_store.exists(name) for name in names)
    file_store.discard_scratch("projects/2/exports/job-5")
    assert not folder.exists()
    assert file_store.local_copy(names[0]).read_text() == "file,label\n"
    file_store.delete(names[0])
    assert not file_store.exists(names[0])
