"""Progress reporting and cancellation shared by every long-running ml_engine job.

Training, self-supervised pre-training, scoring and simulations all take a
``progress`` callback and a ``cancel`` flag. Workers forward progress to the web app's Job
rows and set the flag when a user cancels; the command line draws a progress bar.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Progress:
    """One progress report: where a job is and how it is doing.

    Attributes:
        stage: what the job is doing ("train", "pretrain", "score", ...).
        epoch: the current epoch, counted from 1 (0 before the first).
        epochs: the planned number of epochs.
        step: the step within the epoch, counted from 1.
        steps: steps per epoch.
        loss: the latest training loss, if any.
        metrics: latest metrics (for example validation accuracy), by name.
    """

    stage: str
    epoch: int = 0
    epochs: int = 0
    step: int = 0
    steps: int = 0
    loss: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        """Fraction of the planned work done, in [0, 1]."""
        if self.epochs <= 0 or self.steps <= 0:
            return 0.0
        done = (max(self.epoch, 1) - 1) * self.steps + self.step
        return min(1.0, done / (self.epochs * self.steps))


ProgressCallback = Callable[[Progress], None]
"""Receives progress reports; must return quickly (it runs inside the training loop)."""

CancelFlag = Callable[[], bool]
"""Returns True when the job should stop; checked once per step."""


class Cancelled(Exception):
    """Raised by a job that stopped because its cancel flag was set."""


def never_cancelled() -> bool:
    """The default cancel flag: never stop."""
    return False


def ignore_progress(progress: Progress) -> None:
    """The default progress callback: report nothing."""
