"""Reading and extracting user-uploaded zip archives without trusting them.

A zip comes from a browser upload, so it may be hostile: member names that climb out of the
destination (``../../etc/cron.d/x``) or are absolute (``/etc/passwd``, ``C:\\x``), symbolic
links, archives inside archives, and decompression bombs (a few kB that expand to many GB,
with sizes in the header that lie). This module

* skips members with unsafe names or symlink attributes, and nested archives, reporting each
  one as an :class:`ImportProblem` (the rest of the archive still imports);
* skips members whose declared size is over the per-file cap (no face image is that large)
  or whose name has a part longer than file systems allow;
* refuses the whole archive (:class:`UnsafeArchiveError`) when its member count, declared
  uncompressed size or compression ratio is above the caps, before writing a byte;
* counts the bytes actually decompressed and stops when they pass the declared size or the
  cap, so a lying header cannot get past the limit.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from ml_engine.data.dataset import ImportProblem
from ml_engine.data.importers.image_files import is_image_name

MAX_MEMBERS = 200_000
MAX_TOTAL_BYTES = 2 * 1024**3
MAX_MEMBER_BYTES = 64 * 1024**2
"""Largest single file extracted: a 4096x4096 RGBA image, the decoder's limit, is 64 MiB raw."""
MAX_COMPRESSION_RATIO = 100
"""Largest ratio of declared to compressed bytes for the archive as a whole. Zipped PNG or JPEG
faces expand about 1:1 and uncompressed bitmaps by a few times; a bomb by a thousand or more."""
RATIO_EXEMPT_BYTES = 16 * 1024**2
"""Archives that expand to less than this are not held to the ratio: they cost nothing."""
MAX_NAME_PART_BYTES = 255
"""Longest file or folder name most file systems accept (in UTF-8 bytes)."""
ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar")
_CHUNK = 1 << 20
_MEMBER_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError)


class UnsafeArchiveError(ValueError):
    """The archive as a whole is refused (too many members, or too large once decompressed)."""


def read_image_members(
    path: str | os.PathLike[str], *, max_members: int = MAX_MEMBERS, max_total_bytes: int = MAX_TOTAL_BYTES
) -> tuple[list[tuple[str, bytes]], list[ImportProblem]]:
    """Read the image members of a zip into memory as ``(name, bytes)``, in archive order.

    Non-image members are reported as problems, not read.
    """
    members: list[tuple[str, bytes]] = []
    with _open_zip(path) as archive:
        infos, problems = safe_members(archive, max_members=max_members, max_total_bytes=max_total_bytes)
        budget = _Budget(max_total_bytes)
        for info in infos:
            if not is_image_name(info.filename):
                problems.append(ImportProblem(info.filename, "not an image file name; skipped"))
                continue
            try:
                members.append((info.filename, b"".join(_read_chunks(archive, info, budget))))
            except _MEMBER_ERRORS as error:
                problems.append(ImportProblem(info.filename, f"corrupt archive member: {error}"))
    return members, problems


def extract_zip(
    path: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    max_members: int = MAX_MEMBERS,
    max_total_bytes: int = MAX_TOTAL_BYTES,
) -> list[ImportProblem]:
    """Extract the safe members of a zip under ``destination`` (created if missing).

    Files are created exclusively (an existing file or planted symlink is never overwritten or
    followed) and every target is checked to resolve inside ``destination``.
    """
    root = Path(destination)
    root.mkdir(parents=True, exist_ok=True)
    resolved_root = root.resolve()
    with _open_zip(path) as archive:
        infos, problems = safe_members(archive, max_members=max_members, max_total_bytes=max_total_bytes)
        budget = _Budget(max_total_bytes)
        for info in infos:
            target = root / _clean_name(info.filename)
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.parent.resolve().is_relative_to(resolved_root):
                problems.append(ImportProblem(info.filename, "resolves outside the destination; skipped"))
                continue
            problem = _extract_member(archive, info, target, budget)
            if problem is not None:
                problems.append(problem)
    return problems


def _extract_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: _Budget
) -> ImportProblem | None:
    try:
        out = open(target, "xb")  # noqa: SIM115 - exclusive create: never follows a planted link
    except FileExistsError:
        return ImportProblem(info.filename, "a file of that name already exists; skipped")
    except OSError as error:
        return ImportProblem(info.filename, f"cannot be written here: {error.strerror or error}; skipped")
    try:
        with out:
            for chunk in _read_chunks(archive, info, budget):
                out.write(chunk)
    except _MEMBER_ERRORS as error:
        target.unlink()
        return ImportProblem(info.filename, f"corrupt archive member: {error}")
    except UnsafeArchiveError:
        target.unlink()
        raise
    return None


def safe_members(
    archive: zipfile.ZipFile, *, max_members: int, max_total_bytes: int
) -> tuple[list[zipfile.ZipInfo], list[ImportProblem]]:
    """The members that are safe to read, and a problem entry for each one that is not."""
    infos = archive.infolist()
    if len(infos) > max_members:
        raise UnsafeArchiveError(f"archive has {len(infos)} members, more than the limit of {max_members}")
    declared = sum(info.file_size for info in infos)
    if declared > max_total_bytes:
        raise UnsafeArchiveError(
            f"archive expands to {declared} bytes, more than the limit of {max_total_bytes}"
        )
    compressed = max(1, sum(info.compress_size for info in infos))
    if archive.filename:  # compressed sizes are header fields too: trust the file's real size
        compressed = max(1, min(compressed, os.path.getsize(archive.filename)))
    if declared > RATIO_EXEMPT_BYTES and declared > MAX_COMPRESSION_RATIO * compressed:
        raise UnsafeArchiveError(
            f"archive expands {declared // compressed}-fold ({compressed} bytes to {declared}), "
            f"more than the limit of {MAX_COMPRESSION_RATIO}-fold"
        )
    safe: list[zipfile.ZipInfo] = []
    problems: list[ImportProblem] = []
    seen: set[str] = set()
    for info in infos:
        reason = _unsafe_reason(info, seen)
        if reason == "":
            safe.append(info)
        elif reason is not None:
            problems.append(ImportProblem(info.filename, reason))
    return safe, problems


def _unsafe_reason(info: zipfile.ZipInfo, seen: set[str]) -> str | None:
    """Why a member is skipped; ``""`` when it is safe, ``None`` for folders and OS litter."""
    name = info.filename.replace("\\", "/")
    parts = PurePosixPath(name).parts
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "absolute path refused"
    if ".." in parts:
        return "path climbs out of the archive ('..') refused"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symbolic link refused"
    if info.is_dir() or not parts or parts[0] == "__MACOSX" or parts[-1].startswith("._"):
        return None
    if any(len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_PART_BYTES for part in parts):
        return f"a name in the path is longer than the limit of {MAX_NAME_PART_BYTES} bytes; skipped"
    if info.file_size > MAX_MEMBER_BYTES:
        return (
            f"{info.file_size} bytes once extracted, more than the limit of {MAX_MEMBER_BYTES} "
            "per file; skipped"
        )
    if name.lower().endswith(ARCHIVE_SUFFIXES):
        return "nested archive not extracted"
    if name in seen:
        return "duplicate member name; only the first is used"
    seen.add(name)
    return ""


def _clean_name(name: str) -> str:
    return str(PurePosixPath(name.replace("\\", "/")))


class _Budget:
    """Bytes that may still be decompressed from the archive as a whole."""

    def __init__(self, limit: int) -> None:
        self.left = limit


def _read_chunks(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: _Budget):
    """Yield a member's bytes, stopping with an error once it passes its declared size or the cap."""
    produced = 0
    with archive.open(info) as member:
        while chunk := member.read(_CHUNK):
            produced += len(chunk)
            budget.left -= len(chunk)
            if produced > info.file_size or budget.left < 0:
                raise UnsafeArchiveError(f"{info.filename} decompresses past its declared size or the limit")
            yield chunk


def _open_zip(path: str | os.PathLike[str]) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        raise ValueError(f"{os.fspath(path)} is not a readable zip archive: {error}") from error
