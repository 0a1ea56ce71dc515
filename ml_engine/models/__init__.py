"""Face classifiers: a registry (``create_model``), backbones, and checked weight loading."""

from __future__ import annotations

from ml_engine.models import resnet, small_cnn
from ml_engine.models.classifier import FaceClassifier
from ml_engine.models.registry import create_model, list_models, register_model
from ml_engine.models.weights import (
    LoadedWeights,
    WeightsMismatchError,
    create_model_with_weights,
    load_backbone_weights,
)

__all__ = [
    "FaceClassifier",
    "LoadedWeights",
    "WeightsMismatchError",
    "create_model",
    "create_model_with_weights",
    "list_models",
    "load_backbone_weights",
    "register_model",
    "resnet",
    "small_cnn",
]
