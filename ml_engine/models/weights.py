"""Load pre-trained backbone weights into a classifier, and fail loudly when they do not fit.

ActiveFER loaded its self-supervised checkpoints with ``strict=False`` after stripping
``backbone.``; with lightly's ``nn.Sequential`` backbones that loaded nothing at all (102
missing, 120 unexpected keys) and nobody noticed (docs/reference-implementations.md §1.3). Here
every backbone parameter and buffer must be matched by name and shape; only the classifier
head may be missing or left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from ml_engine.models.classifier import FaceClassifier
from ml_engine.models.registry import create_model

_WRAPPER_PREFIXES = ("module.", "_orig_mod.")
_HEAD_PREFIXES = ("classifier.", "dropout.")


class WeightsMismatchError(ValueError):
    """The weights do not fit the backbone: keys are missing, unexpected or of another shape."""


@dataclass(frozen=True)
class LoadedWeights:
    """What :func:`load_backbone_weights` did.

    Attributes:
        loaded: backbone keys that were loaded (all of them, or the call raised).
        ignored_head_keys: classifier-head keys found in the input and not loaded.
    """

    loaded: tuple[str, ...]
    ignored_head_keys: tuple[str, ...]


def _strip(key: str) -> str:
    """Remove DataParallel / torch.compile wrappers from the front of ``key``."""
    changed = True
    while changed:
        changed = False
        for prefix in _WRAPPER_PREFIXES:
            if key.startswith(prefix):
                key, changed = key[len(prefix) :], True
    return key


def _split_keys(state_dict: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Backbone entries (names relative to the backbone) and the head keys of ``state_dict``.

    A full classifier state dict has ``backbone.*`` and ``classifier.*`` keys; a backbone-only
    one has bare backbone names. Mixing both styles is rejected, since one of them is wrong.
    """
    stripped = {_strip(key): value for key, value in state_dict.items()}
    full_style = any(key.startswith("backbone.") for key in stripped)
    backbone: dict[str, torch.Tensor] = {}
    head: list[str] = []
    for key, value in stripped.items():
        if full_style and key.startswith(_HEAD_PREFIXES):
            head.append(key)
        elif full_style and key.startswith("backbone."):
            backbone[key[len("backbone.") :]] = value
        else:
            backbone[key] = value
    return backbone, head


def _describe(title: str, keys: list[str], limit: int = 20) -> str:
    shown = ", ".join(keys[:limit]) + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")
    return f"{title} ({len(keys)}): {shown}"


def load_backbone_weights(model: FaceClassifier, state_dict: Mapping[str, torch.Tensor]) -> LoadedWeights:
    """Copy pre-trained weights into ``model.backbone``; the classifier head keeps its own.

    Args:
        model: the classifier to receive the weights.
        state_dict: either ``model.backbone.state_dict()`` (e.g. from self-supervised
            pre-training) or a full ``FaceClassifier`` state dict; ``module.`` prefixes from
            ``DataParallel`` are removed.

    Returns:
        The loaded keys and the ignored head keys.

    Raises:
        WeightsMismatchError: naming every missing, unexpected and wrongly shaped key.
    """
    weights, head_keys = _split_keys(state_dict)
    expected = model.backbone.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    shapes = sorted(
        f"{key} {tuple(weights[key].shape)} vs {tuple(expected[key].shape)}"
        for key in set(weights) & set(expected)
        if weights[key].shape != expected[key].shape
    )
    if missing or unexpected or shapes:
        problems = [
            _describe(title, keys)
            for title, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", shapes))
            if keys
        ]
        raise WeightsMismatchError("backbone weights do not fit the model: " + "; ".join(problems))
    result = model.backbone.load_state_dict(weights, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise WeightsMismatchError(f"load_state_dict disagreed with the key check: {result}")
    return LoadedWeights(loaded=tuple(sorted(weights)), ignored_head_keys=tuple(sorted(head_keys)))


def create_model_with_weights(
    name: str,
    num_classes: int,
    weights: Mapping[str, torch.Tensor] | None,
    *,
    dropout: float = 0.0,
    **kwargs: Any,
) -> FaceClassifier:
    """:func:`~ml_engine.models.registry.create_model`, its backbone then given ``weights`` (if any).

    Raises:
        WeightsMismatchError: when ``weights`` do not fit the backbone (see :func:`load_backbone_weights`).
    """
    model = create_model(name, num_classes, dropout=dropout, **kwargs)
    if weights is not None:
        load_backbone_weights(model, weights)
    return model
