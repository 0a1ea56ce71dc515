"""The command line's progress bar: :class:`~ml_engine.progress.Progress` reports drawn by tqdm."""

from __future__ import annotations

import sys
from typing import TextIO

from tqdm import tqdm

from ml_engine.progress import Progress

_SHOWN = ("train_accuracy", "val_accuracy", "val_macro_f1")
"""Epoch metrics worth a line of their own."""


class ProgressBar:
    """A :data:`~ml_engine.progress.ProgressCallback` that draws a tqdm bar per stage.

    On a terminal the bar counts steps over the whole run (``epochs x steps``) and shows the
    epoch and loss; elsewhere (logs, pipes) tqdm is off. Either way an epoch report carrying
    metrics writes one line, ``train epoch 1/2  50.0%  step 4/4  loss 0.5000  val_accuracy
    0.7500``, so the metrics stay readable in a log.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._bar: tqdm | None = None
        self._run: tuple[str, int] = ("", 0)

    def __call__(self, progress: Progress) -> None:
        total = progress.epochs * progress.steps
        done = (max(progress.epoch, 1) - 1) * progress.steps + progress.step
        run = (progress.stage, total)
        if not (self._bar is None and run == self._run and total and done >= total):
            # Not the summary report that follows a run's last step, whose bar is closed.
            self._draw(progress, run, done)
        if progress.metrics:
            tqdm.write(_epoch_line(progress), file=self.stream)
        if total and done >= total:
            self.close()

    def _draw(self, progress: Progress, run: tuple[str, int], done: int) -> None:
        """Move the run's bar to ``done`` steps, starting a new bar for a new run."""
        description = f"{progress.stage} epoch {progress.epoch}/{progress.epochs}"
        if self._bar is None or self._run != run or done < self._bar.n:
            self.close()
            self._bar = tqdm(
                desc=description,
                total=run[1] or None,
                file=self.stream,
                disable=not self.interactive,
                unit="step",
                mininterval=0.2,
                dynamic_ncols=True,
            )
            self._run = run
        self._bar.set_description(description, refresh=False)
        if progress.loss is not None:
            self._bar.set_postfix_str(f"loss {progress.loss:.4f}", refresh=False)
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        """End the current bar (a finished run, or a new stage starting)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _epoch_line(progress: Progress) -> str:
    """One line for a finished epoch: where the run is, its loss and the metrics in :data:`_SHOWN`."""
    parts = [
        f"{progress.stage} epoch {progress.epoch}/{progress.epochs}",
        f"{100 * progress.fraction:5.1f}%",
        f"step {progress.step}/{progress.steps}",
    ]
    if progress.loss is not None:
        parts.append(f"loss {progress.loss:.4f}")
    parts += [f"{name} {value:.4f}" for name, value in progress.metrics.items() if name in _SHOWN]
    return "  ".join(parts)
