"""A registry of face classifiers and ``create_model``, in the style of timm's ``_factory.py``.

Every model in FaceLoop is built by name so that a checkpoint only has to store the name and
the keyword arguments to rebuild the same network (see :mod:`ml_engine.checkpoint`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

from ml_engine.models.classifier import FaceClassifier

BackboneBuilder = Callable[..., tuple[nn.Module, int]]
"""Builds a backbone from ``in_channels`` and model-specific keyword arguments.

Returns the backbone module, mapping ``(B, in_channels, H, W)`` to ``(B, D)`` features, and ``D``.
"""

_BACKBONES: dict[str, BackboneBuilder] = {}


def register_model(name: str) -> Callable[[BackboneBuilder], BackboneBuilder]:
    """Register a backbone builder under ``name`` (a decorator)."""

    def decorate(builder: BackboneBuilder) -> BackboneBuilder:
        if name in _BACKBONES:
            raise ValueError(f"model {name!r} is already registered")
        _BACKBONES[name] = builder
        return builder

    return decorate


def list_models() -> list[str]:
    """The registered model names, sorted."""
    return sorted(_BACKBONES)


def create_model(
    name: str,
    num_classes: int,
    *,
    in_channels: int = 1,
    dropout: float = 0.0,
    **kwargs: Any,
) -> FaceClassifier:
    """Build the face classifier registered as ``name``.

    Args:
        name: a registered name (see :func:`list_models`), e.g. ``"resnet18"`` or ``"small_cnn"``.
        num_classes: number of output classes of the linear head.
        in_channels: image channels (1 for FaceLoop's grayscale faces).
        dropout: probability of the ``nn.Dropout`` before the head; BALD's MC dropout samples it.
        **kwargs: backbone-specific options (``stem`` for ``"resnet18"``).

    Returns:
        A freshly initialised :class:`FaceClassifier` that remembers how it was built
        (``model_name``, and ``model_kwargs`` with every backbone default filled in, so a
        checkpoint rebuilds the same network even if a default changes later).
    """
    if name not in _BACKBONES:
        raise ValueError(f"unknown model {name!r}; registered models: {list_models()}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be positive, got {num_classes}")
    builder = _BACKBONES[name]
    arguments = inspect.signature(builder).bind(in_channels=in_channels, **kwargs)
    arguments.apply_defaults()
    backbone, embedding_dim = builder(**arguments.arguments)
    model = FaceClassifier(backbone, embedding_dim, num_classes, dropout=dropout)
    model.model_name = name
    model.model_kwargs = {**arguments.arguments, "dropout": dropout}
    return model
