"""What every self-supervised method is: a backbone plus heads, a loss over views, a registry.

The trainer (:mod:`ml_engine.ssl.pretrain`) only knows this interface, so adding a method
means one module with one registered class. Each method trains exactly the classifier's
``FaceClassifier.backbone`` (built by :func:`ml_engine.models.create_model`), so the weights
it learns load into the classifier by name (docs/reference-implementations.md §1.3: the
reference code's SSL weights never reached the classifier).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import torch
from torch import nn

from ml_engine.ssl.augmentations import MultiViewAugmentation, two_views
from ml_engine.ssl.config import PretrainConfig


@contextmanager
def full_precision(device_type: str) -> Iterator[None]:
    """Switch autocast off: losses run in fp32 (SwAV's Sinkhorn ``exp(s / 0.05)`` overflows fp16)."""
    with torch.autocast(device_type=device_type, enabled=False):
        yield


class SSLMethod(nn.Module):
    """Base class: ``backbone`` (the part that is kept) plus method-specific heads.

    Subclasses set ``DEFAULTS`` (values used where the config says ``None``) and implement
    :meth:`loss`; momentum methods also override :meth:`on_step_end`.

    Args:
        backbone: maps ``(B, 1, H, W)`` faces to ``(B, embedding_dim)`` features.
        embedding_dim: the backbone's feature size.
        config: the run's settings.
    """

    name: ClassVar[str] = ""
    DEFAULTS: ClassVar[dict[str, Any]] = {}

    def __init__(self, backbone: nn.Module, embedding_dim: int, config: PretrainConfig) -> None:
        super().__init__()
        self.backbone = backbone
        self.embedding_dim = embedding_dim
        self.config = config

    def option(self, name: str) -> Any:
        """``config.<name>``, or this method's default when the config leaves it ``None``."""
        value = getattr(self.config, name)
        return self.DEFAULTS.get(name) if value is None else value

    def hidden_dim(self) -> int:
        """Projection head hidden width (the backbone's width when the method has no default)."""
        return self.option("hidden_dim") or self.embedding_dim

    def view_augmentation(self) -> MultiViewAugmentation:
        """The views one face yields per step (two full-resolution views by default)."""
        return two_views(self.config.image_size, self.config.augmentation)

    def loss(self, views: list[torch.Tensor]) -> torch.Tensor:
        """The method's loss on one batch of views (the order of :meth:`view_augmentation`)."""
        raise NotImplementedError

    def on_step_end(self, step: int, total_steps: int) -> None:
        """Called after each optimiser step (``step`` counts from 0 over the whole run)."""


class JointViewsMethod(SSLMethod):
    """A method whose loss compares the projections of two views: SimCLR, Barlow Twins.

    Both views go through the backbone as one batch, so BatchNorm sees all 2N views; the loss
    runs in full precision. Subclasses set ``projection_head`` and ``criterion``, which takes
    the two views' projections.
    """

    projection_head: nn.Module
    criterion: nn.Module

    def loss(self, views: list[torch.Tensor]) -> torch.Tensor:
        """``criterion`` of the two views' projections."""
        first, second = views
        projections = self.projection_head(self.backbone(torch.cat([first, second])))
        with full_precision(first.device.type):
            z0, z1 = projections.float().chunk(2)
            return self.criterion(z0, z1)


_METHODS: dict[str, type[SSLMethod]] = {}


def register_method(name: str) -> Callable[[type[SSLMethod]], type[SSLMethod]]:
    """Register an :class:`SSLMethod` subclass under ``name`` (a class decorator)."""

    def decorate(cls: type[SSLMethod]) -> type[SSLMethod]:
        if name in _METHODS:
            raise ValueError(f"SSL method {name!r} is already registered")
        cls.name = name
        _METHODS[name] = cls
        return cls

    return decorate


def list_methods() -> list[str]:
    """Registered method names, sorted."""
    return sorted(_METHODS)


def create_method(config: PretrainConfig, backbone: nn.Module, embedding_dim: int) -> SSLMethod:
    """Build ``config.method`` around ``backbone``."""
    if config.method not in _METHODS:
        raise ValueError(f"unknown SSL method {config.method!r}; registered: {list_methods()}")
    return _METHODS[config.method](backbone, embedding_dim, config)
