"""Progress and cancellation for exports that stream rows one by one.

Large label-set exports run as background jobs; the worker forwards :class:`Progress`
reports to the UI and sets a cancel flag when the user gives up. Every label writer takes
them as :class:`RowTracking` keywords and hands them to :func:`track`, which wraps the row
iterable so every writer reports and checks the flag the same way, every ``every`` rows
(cheap enough for a million faces, frequent enough for a progress bar).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TypedDict, TypeVar

from ml_engine.progress import CancelFlag, Cancelled, Progress, ProgressCallback

Row = TypeVar("Row")

ExportPath = str | os.PathLike[str]
"""Where a writer puts its file."""


class RowTracking(TypedDict, total=False):
    """A label writer's keywords for :func:`track`.

    Attributes:
        total: how many rows the iterable holds, when known (for the progress fraction).
        progress: receives a report every few thousand rows.
        cancel: checked as often; the writer stops with ``Cancelled`` when it returns True.
    """

    total: int | None
    progress: ProgressCallback | None
    cancel: CancelFlag | None


def track(
    rows: Iterable[Row],
    *,
    stage: str,
    total: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelFlag | None = None,
    every: int = 1000,
) -> Iterator[Row]:
    """Yield ``rows`` unchanged, reporting ``Progress(stage, step=done, steps=total)``.

    ``epoch``/``epochs`` are both 1 so :attr:`Progress.fraction` is ``done / total``; without
    a ``total`` (an iterable of unknown length) ``steps`` is 0 and only the count is reported.

    Raises:
        Cancelled: when ``cancel()`` returns True at a check (the caller's atomic write then
            discards the partial file).
    """
    steps = total or 0
    done = 0
    for row in rows:
        if done % every == 0:
            if cancel is not None and cancel():
                raise Cancelled(f"{stage} cancelled after {done} rows")
            if progress is not None:
                progress(Progress(stage, epoch=1, epochs=1, step=done, steps=steps))
        yield row
        done += 1
    if progress is not None:
        progress(Progress(stage, epoch=1, epochs=1, step=done, steps=max(steps, done)))
