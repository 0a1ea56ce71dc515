"""Training modes: supervised (``fit``) and, built on its loop, the other modes of the design.

``fit(..., targets=...)`` trains on per-face target distributions and ``fit(..., loss=...)``
on any :data:`TrainLoss`; partial-label and probability-target training use these hooks.
"""

from __future__ import annotations

from ml_engine.training.loop import TrainLoss
from ml_engine.training.supervised import LOW_VARIANCE, TrainConfig, TrainResult, fit

__all__ = ["LOW_VARIANCE", "TrainConfig", "TrainLoss", "TrainResult", "fit"]
