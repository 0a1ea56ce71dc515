"""Face datasets: one in-memory description shared by training, strategies and the web app."""

from __future__ import annotations

from ml_engine.data.dataset import FaceDataset, ImportProblem

__all__ = ["FaceDataset", "ImportProblem"]
