"""Training modes: supervised (``fit``) and, built on its loop, the other modes of the design."""

from __future__ import annotations

from ml_engine.training.supervised import TrainConfig, TrainResult, fit

__all__ = ["TrainConfig", "TrainResult", "fit"]
