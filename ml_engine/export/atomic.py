"""Write a file under a temporary name in its final folder, then rename it into place.

An export of a million faces takes minutes; a worker can be killed half-way. Writing to a
hidden sibling and ``os.replace``-ing it only after a successful ``fsync`` means the final
path either holds a complete, verified file or does not exist: the web app never offers a
half-written zip or model for download. ``os.replace`` is atomic on POSIX and Windows when
source and target are on the same file system, hence the temporary file in the same folder.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(destination: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``destination``; rename it there if the block succeeds.

    The block writes (and may verify) the file at the yielded path. On any exception the
    temporary file is removed and ``destination`` is left untouched. The finished file is
    made world-readable (``0o644``; ``mkstemp`` creates it owner-only) so a web server
    running as another user can serve it.

    Example:
        >>> with atomic_path("labels.csv") as temporary:  # doctest: +SKIP
        ...     temporary.write_text("file,label\\n")
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".partial", dir=destination.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        _fsync(temporary)
        os.chmod(temporary, 0o644)
        os.replace(temporary, destination)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _fsync(path: Path) -> None:
    """Flush ``path``'s data to disk so the rename never exposes an empty file after a crash."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
