"""Uploaded files on disk: a safe name for each, written to the import's temporary folder."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path, PurePosixPath

MAX_NAME_BYTES = 120
"""Longest stored upload file name in UTF-8 bytes, well under the 255 file systems allow."""
_UNSAFE_NAME_CHARACTERS = re.compile(r"[^\w.\- ()+,=@]")
ARCHIVE_SUFFIXES = {".zip", ".csv", ".json"}
"""A lone upload with one of these suffixes is read in its own format; other uploads are an image folder."""


def safe_upload_name(name: str, index: int) -> str:
    """A file name safe to create from a browser's: NFC, no path or unusual characters, short.

    The extension is kept (the importer picks the format by it); the stem is cut to
    :data:`MAX_NAME_BYTES` on a character boundary. A name of 200 "é" (400 bytes) otherwise
    failed to be created at all.
    """
    base = PurePosixPath(unicodedata.normalize("NFC", str(name)).replace("\\", "/")).name
    base = _UNSAFE_NAME_CHARACTERS.sub("_", base).strip(" .") or f"upload-{index}"
    stem, dot, extension = base.rpartition(".")
    if not dot or len(extension.encode()) > 16:
        stem, dot, extension = base, "", ""
    room = MAX_NAME_BYTES - len(f"{dot}{extension}".encode())
    stem = stem.encode()[:room].decode("utf-8", "ignore").rstrip(" .") or f"upload-{index}"
    return f"{stem}{dot}{extension}"


def save_upload(folder: Path, index: int, upload) -> Path:
    """Write one upload into ``folder`` under its safe name (prefixed with ``index`` when taken)."""
    name = safe_upload_name(str(upload.name), index)
    target = folder / name
    if target.exists():
        target = folder / f"{index}-{name}"
    with open(target, "wb") as handle:
        for chunk in upload.chunks():
            handle.write(chunk)
    return target
