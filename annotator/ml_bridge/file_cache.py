"""The last file a process loaded, kept while the file on disk is unchanged (path and modification time)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

Loaded = TypeVar("Loaded")


class LatestFile(Generic[Loaded]):
    """One loaded file per process: a new path, or the same path rewritten, replaces it.

    Stored scores and faiss indexes are large and read by every face page, so the value of
    the file read last is kept; a training that rewrites the file changes its modification
    time, which reloads it. Loading holds a lock, so requests at once load a file only once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entry: tuple[tuple[str, float], Loaded] | None = None

    def get(self, path: Path, load: Callable[[], Loaded]) -> Loaded:
        """The value ``load()`` returned for ``path`` as it is on disk now, loading it if needed."""
        key = (str(path), path.stat().st_mtime)
        with self._lock:
            if self._entry is None or self._entry[0] != key:
                self._entry = None  # let the old value go before the new one loads
                self._entry = (key, load())
            return self._entry[1]
