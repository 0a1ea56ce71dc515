"""Every stored file (faces, models, embeddings, indexes, exports, starting weights) through one storage.

Files are kept in Django's default storage (``settings.STORAGES``, :func:`annotator.env.get_storages`):
the media folder of this host, or an S3-compatible bucket that web servers and workers on
different hosts share instead of a disk. Rows name files by their storage name
(``projects/<id>/...``, :mod:`annotator.media_layout`); nothing stores a path.

``ml_engine`` reads and writes local files only, so this module turns names into local files
and back:

- :func:`local_copy` / :func:`local_copies`: the file of a name, to read. With the media
  folder, the stored file itself (no copy). With a remote storage, a copy in this process's
  local folder (``FACELOOP_LOCAL_DIR/files/<name>``), fetched once (written to a temporary
  file and renamed, so a reader never sees half a file) and reused after: every name FaceLoop
  writes is written once with its bytes (faces are named by their pixels' checksum, job
  outputs live in their job's folder, starting weights get a fresh name each time), so a
  cached copy never goes stale.
- :func:`scratch_folder` / :func:`publish`: where a job writes its outputs, and their upload.
  With the media folder, the scratch folder is the job's stored folder itself and publishing
  does nothing; with a remote storage it lies under ``FACELOOP_LOCAL_DIR/scratch`` and
  :func:`publish` uploads it under the same names (and keeps the files as cached copies)
  before any row names them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast
from urllib.parse import quote

from botocore.exceptions import ClientError
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, storages

FETCH_THREADS = 8
"""Files fetched or stored at once with a remote storage: each is a round trip of a few milliseconds."""
COPY_CHUNK = 1024 * 1024


def storage() -> Storage:
    """The storage every FaceLoop file is kept in (``STORAGES["default"]``)."""
    return storages["default"]


def is_local() -> bool:
    """True when the storage is a folder of this host, read in place (``FACELOOP_STORAGE=filesystem``)."""
    return isinstance(storage(), FileSystemStorage)


def _checked(name: str) -> str:
    """``name`` if it stays inside the storage (relative, no ``..``): it becomes a local path."""
    parts = name.split("/")
    if not name or name.startswith("/") or "\\" in name or any(part in {"", ".", ".."} for part in parts):
        raise ValueError(f"not a storage name: {name!r}")
    return name


def _cache_root() -> Path:
    return Path(settings.FACELOOP_LOCAL_DIR) / "files"


def scratch_root() -> Path:
    """The folder whose layout mirrors the storage's names, where this process writes new files."""
    if is_local():
        return Path(cast("FileSystemStorage", storage()).location)
    return Path(settings.FACELOOP_LOCAL_DIR) / "scratch"


def local_copy(name: str) -> Path:
    """A local file holding stored file ``name``, to read (see the module docstring).

    Raises:
        FileNotFoundError: with a remote storage, no file of that name is stored (the media
            folder's path is returned as it is, for the reader to find missing).
    """
    if is_local():
        return Path(storage().path(_checked(name)))
    target = _cache_root() / _checked(name)
    if target.is_file():
        return target
    with _written_whole(target) as out, open_object(name).body as source:
        shutil.copyfileobj(source, out, COPY_CHUNK)
    return target


@dataclass(frozen=True)
class StoredObject:
    """A stored file opened to read, with what a response needs to describe it."""

    body: IO[bytes]
    size: int
    modified: datetime


def open_object(name: str) -> StoredObject:
    """Stored file ``name`` opened to read: one request to a remote storage.

    django-storages' ``open`` asks the bucket first whether the object exists and how large it
    is (HeadObject) before it reads (GetObject); a GetObject's answer already says both.

    Raises:
        FileNotFoundError: no file of that name is stored.
    """
    checked = _checked(name)
    if is_local():
        path = Path(storage().path(checked))
        body = path.open("rb")
        stat = os.fstat(body.fileno())
        return StoredObject(body, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))
    bucket_storage: Any = storage()
    key = bucket_storage._normalize_name(checked)  # the bucket key: the storage's location prefix + name
    try:
        answer = bucket_storage.bucket.Object(key).get()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            raise FileNotFoundError(f"no stored file {name!r}") from error
        raise
    return StoredObject(answer["Body"], answer["ContentLength"], answer["LastModified"])


@contextmanager
def _written_whole(target: Path) -> Iterator[IO[bytes]]:
    """A file to write ``target`` through: a temporary file renamed over it once whole, removed on error."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    try:
        with os.fdopen(handle, "wb") as out:
            yield out
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def local_copies(names: Sequence[str]) -> list[Path]:
    """:func:`local_copy` of each name, in order; missing remote copies are fetched in parallel."""
    if is_local():
        return [local_copy(name) for name in names]
    missing = sorted({name for name in names if not (_cache_root() / _checked(name)).is_file()})
    if missing:
        with ThreadPoolExecutor(FETCH_THREADS) as pool:
            list(pool.map(local_copy, missing))
    return [_cache_root() / name for name in names]


def save_bytes(name: str, data: bytes) -> None:
    """Store ``data`` as ``name``; a name that already exists is left as it is (it holds these bytes)."""
    if not is_local():
        storage().save(_checked(name), ContentFile(data))
        return
    target = local_copy(name)
    if not target.exists():
        with _written_whole(target) as out:
            out.write(data)


def save_many(files: dict[str, bytes]) -> None:
    """:func:`save_bytes` of each name and its bytes; a remote storage gets them several at a time."""
    if is_local():
        for name, data in files.items():
            save_bytes(name, data)
        return
    with ThreadPoolExecutor(FETCH_THREADS) as pool:
        list(pool.map(save_bytes, files, files.values()))


def scratch_folder(name: str) -> Path:
    """The local folder where this process writes the files to be stored under folder ``name``.

    It is not created here: what writes in it does, so a job that never starts leaves none.
    """
    return scratch_root() / _checked(name)


def stored_name(path: Path) -> str:
    """The storage name of ``path``, a file this process wrote under :func:`scratch_root`."""
    return Path(path).resolve().relative_to(scratch_root().resolve()).as_posix()


def publish(paths: Iterable[Path]) -> list[str]:
    """Store the files at ``paths`` (under :func:`scratch_root`) under their names; returns the names.

    A folder stands for every file inside it. With the media folder they are stored already.
    With a remote storage each is uploaded (in parallel) and then kept as this process's
    cached copy, so what a job wrote is not fetched back.
    """
    files: list[Path] = []
    for path in map(Path, paths):
        files.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
    names = [stored_name(path) for path in files]
    if is_local():
        return names
    with ThreadPoolExecutor(FETCH_THREADS) as pool:
        list(pool.map(_upload_file, files, names))
    return names


def _upload_file(path: Path, name: str) -> None:
    with open(path, "rb") as handle:
        storage().save(name, File(handle, name=Path(name).name))
    with open(path, "rb") as source, _written_whole(_cache_root() / name) as out:
        shutil.copyfileobj(source, out, COPY_CHUNK)


def discard_scratch(name: str) -> None:
    """Remove this process's scratch file or folder ``name`` once it is stored (remote storage only)."""
    if is_local():
        return
    path = scratch_root() / _checked(name)
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def exists(name: str) -> bool:
    return storage().exists(_checked(name))


def delete(name: str) -> None:
    """Remove stored file ``name`` and this process's copy of it; a missing file is no error."""
    storage().delete(_checked(name))
    if not is_local():
        (_cache_root() / name).unlink(missing_ok=True)


def signed_url(name: str, *, download_as: str | None = None) -> str:
    """A URL of ``name`` valid for ``FACELOOP_S3_URL_SECONDS``, saved as ``download_as`` when given.

    Only a remote storage signs URLs; the bucket itself stays private.
    """
    if is_local():
        raise ValueError("the media folder has no signed URLs: files are streamed by the app")
    parameters = (
        {"ResponseContentDisposition": f"attachment; filename*=UTF-8''{quote(download_as)}"}
        if download_as
        else None
    )
    return storage().url(_checked(name), parameters=parameters)  # type: ignore[call-arg]
