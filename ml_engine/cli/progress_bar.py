"""A small text progress bar on stderr for the command line (no third-party dependency)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from ml_engine.progress import Progress


class ProgressBar:
    """A :data:`~ml_engine.progress.ProgressCallback` that draws ``stage epoch [####....] 45% loss``.

    On a terminal the bar redraws in place (at most every ``interval`` seconds); elsewhere
    (logs, pipes) only one line per finished epoch is written. Epoch reports carrying
    metrics always end their line, so the metrics stay visible.
    """

    def __init__(self, stream: TextIO | None = None, width: int = 30, interval: float = 0.2) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.interval = interval
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_draw = 0.0

    def _line(self, progress: Progress) -> str:
        filled = round(self.width * progress.fraction)
        parts = [
            f"{progress.stage} epoch {progress.epoch}/{progress.epochs}",
            f"[{'#' * filled}{'.' * (self.width - filled)}] {100 * progress.fraction:5.1f}%",
            f"step {progress.step}/{progress.steps}",
        ]
        if progress.loss is not None:
            parts.append(f"loss {progress.loss:.4f}")
        parts += [f"{name} {value:.4f}" for name, value in progress.metrics.items() if name in _SHOWN]
        return "  ".join(parts)

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        finished_epoch = bool(progress.metrics)
        if finished_epoch:
            self.stream.write(("\r" if self.interactive else "") + self._line(progress) + "\n")
        elif self.interactive and now - self._last_draw >= self.interval:
            self.stream.write("\r" + self._line(progress))
        else:
            return
        self._last_draw = now
        self.stream.flush()


_SHOWN = ("train_accuracy", "val_accuracy", "val_macro_f1")
