"""Pre-training checkpoints: atomic, resumable, and the source of the classifier's backbone.

One file holds everything a resumed run needs (config, the method's backbone, heads and
momentum copies and MoCo's key queue, optimiser, AMP scaler, completed epochs, loss
history) in the style of torchvision's reference ``train.py``. It is written with
:func:`ml_engine.atomic_write.atomic_path`, so a crash never leaves a half-written checkpoint
behind the final name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ml_engine.atomic_write import atomic_path
from ml_engine.models import FaceClassifier, create_model_with_weights
from ml_engine.ssl.config import PretrainConfig

FORMAT = "faceloop-ssl-checkpoint"
VERSION = 1
BACKBONE_PREFIX = "backbone."


def save_pretraining_checkpoint(payload: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """``torch.save`` to a temporary sibling, then rename it over ``path``."""
    target = Path(path)
    with atomic_path(target) as temporary, open(temporary, "wb") as handle:
        torch.save(payload, handle)
    return target


def load_pretraining_checkpoint(
    path: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read a pre-training checkpoint (tensors only, no pickled code) and check its format."""
    payload = torch.load(path, map_location=device, weights_only=True)
    if payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not a FaceLoop pre-training checkpoint")
    if payload.get("version") != VERSION:
        raise ValueError(f"{path} has checkpoint version {payload.get('version')}, expected {VERSION}")
    return payload


def backbone_state(method_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The online backbone's entries of an SSL method's state dict, with bare backbone names."""
    return {
        key[len(BACKBONE_PREFIX) :]: value
        for key, value in method_state.items()
        if key.startswith(BACKBONE_PREFIX)
    }


@dataclass(frozen=True)
class PretrainedBackbone:
    """Weights to start a classifier from, and how to build the network they fit.

    Attributes:
        state_dict: ``FaceClassifier.backbone`` weights (bare names, CPU tensors).
        model_name: ``create_model`` registry name.
        model_kwargs: ``create_model`` keyword arguments (``in_channels`` and backbone options).
        config: the pre-training settings.
        epochs: completed pre-training epochs.
    """

    state_dict: dict[str, torch.Tensor]
    model_name: str
    model_kwargs: dict[str, Any]
    config: PretrainConfig
    epochs: int

    @property
    def network_kwargs(self) -> dict[str, Any]:
        """``model_kwargs`` less the pre-training's head dropout: the network's shape alone, for a
        classifier that sets its own dropout."""
        return {key: value for key, value in self.model_kwargs.items() if key != "dropout"}

    def build_classifier(self, num_classes: int, *, dropout: float = 0.0) -> FaceClassifier:
        """A classifier whose backbone holds these weights; only the linear head is new.

        ``load_backbone_weights`` raises if any backbone key is missing, unexpected or of
        another shape (the reference code loaded nothing and did not notice, §2.3).
        """
        return create_model_with_weights(
            self.model_name, num_classes, self.state_dict, dropout=dropout, **self.network_kwargs
        )


def load_pretrained_backbone(path: str | os.PathLike[str]) -> PretrainedBackbone:
    """The pre-trained backbone stored in the checkpoint at ``path``."""
    payload = load_pretraining_checkpoint(path)
    return PretrainedBackbone(
        state_dict=backbone_state(payload["method_state"]),
        model_name=payload["model_name"],
        model_kwargs=dict(payload["model_kwargs"]),
        config=PretrainConfig.from_dict(payload["config"]),
        epochs=int(payload["epoch"]),
    )
