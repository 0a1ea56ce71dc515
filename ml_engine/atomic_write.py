"""Write a file under a temporary name in its final folder, then rename it into place.

The one way FaceLoop writes a file that readers must see whole: checkpoints, embeddings,
faiss indexes, pool scores, exports, imported face images. A worker can be killed half-way
through any of them. Writing to a hidden sibling, flushing it to disk, ``os.replace``-ing it
over the final name and then flushing the folder means the final path holds either the old
file, the complete new one, or nothing; never a prefix. ``os.replace`` is atomic on POSIX and
Windows when source and target are on the same file system, hence the temporary file in the
same folder. Flushing the data before the rename keeps a power cut from exposing an empty
file under the new name (the ext4 "zero-length file" case); flushing the folder afterwards
makes the rename itself durable (POSIX ``rename(2)`` and ``fsync(2)``).

This module imports only the standard library, so the web app reaches it through
``annotator.ml_bridge`` without loading torch.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

TEMPORARY_SUFFIX = ".partial"
"""Suffix of the hidden sibling a write goes to; such files are never read."""


@contextlib.contextmanager
def atomic_path(destination: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``destination``; rename it there if the block succeeds.

    The block writes (and may verify) the file at the yielded path, by name or through a
    handle it opens itself. On any exception the temporary file is removed and
    ``destination`` is left untouched. The finished file is made world-readable (``0o644``;
    ``mkstemp`` creates it owner-only) so a web server running as another user can serve it.
    Writers that append their own suffix to a name (``np.save``, ``np.savez``) must be given
    an open handle instead.

    Example:
        >>> with atomic_path("labels.csv") as temporary:  # doctest: +SKIP
        ...     temporary.write_text("file,label\\n")
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        prefix=f".{destination.name}.", suffix=TEMPORARY_SUFFIX, dir=destination.parent
    )
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        _fsync_file(temporary)
        os.chmod(temporary, 0o644)
        os.replace(temporary, destination)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_directory(destination.parent)


@contextlib.contextmanager
def atomic_zip(destination: str | os.PathLike[str]) -> Iterator[zipfile.ZipFile]:
    """Yield a new zip archive that appears at ``destination`` whole (see :func:`atomic_path`).

    Members are stored, not deflated: the archives FaceLoop writes hold PNG and JPEG faces and
    model files, which barely shrink, and deflating a million faces would only cost time. Zip64
    is used automatically past 65,535 members or 4 GiB.

    Example:
        >>> with atomic_zip("faces.zip") as archive:  # doctest: +SKIP
        ...     archive.writestr("labels.csv", "file,label\n")
    """
    with (
        atomic_path(destination) as temporary,
        zipfile.ZipFile(temporary, "w", zipfile.ZIP_STORED) as archive,
    ):
        yield archive


def write_bytes_atomically(destination: str | os.PathLike[str], data: bytes) -> Path:
    """Put ``data`` at ``destination`` whole (see :func:`atomic_path`); returns the path."""
    with atomic_path(destination) as temporary:
        temporary.write_bytes(data)
    return Path(destination)


def write_text_atomically(destination: str | os.PathLike[str], text: str) -> Path:
    """Put ``text`` (UTF-8) at ``destination`` whole (see :func:`atomic_path`); returns the path."""
    with atomic_path(destination) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(destination)


def _fsync_file(path: Path) -> None:
    """Flush ``path``'s data to disk so the rename never exposes an empty file after a crash."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened (Windows)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
