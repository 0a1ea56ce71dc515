"""An owner's own ResNet-18 weights: checked against the project's network, adapted, stored.

A team often has a backbone better than a random start: ImageNet weights, or a
face-recognition network such as the MS-Celeb-1M ResNet-18 that seed 002's code starts
from. The file is read with ``weights_only`` (tensors and plain containers: a pickled
program is refused, never run), its RGB first convolution is summed to the one gray channel
FaceLoop trains on, its classification head is left out, and every other key must fit the
project's network by name and shape (:mod:`ml_engine.models.external_weights`). What is stored
is the adapted backbone state dict, so every later job loads it without adapting again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO


def adopt_backbone_weights(
    upload: Path | BinaryIO, model_name: str, num_classes: int, destination: Path, *, max_unpacked_bytes: int
) -> dict[str, Any]:
    """Check ``upload`` against a ``model_name`` classifier and store the adapted backbone at ``destination``.

    ``upload`` is a path or an open binary file (Django's upload itself, so no copy of it is
    made). Returns what was loaded, adapted and left out. Raises ``ValueError`` with a
    sentence that names no path when the file unpacks past ``max_unpacked_bytes``, is no plain
    state dict, no ResNet-18, or does not fit the network.
    """
    import torch

    from ml_engine.atomic_write import atomic_path
    from ml_engine.models import create_model, load_backbone_weights
    from ml_engine.models.external_weights import read_external_resnet18

    if model_name != "resnet18":
        raise ValueError(f"weights of one's own are ResNet-18 weights; this project trains {model_name}")
    external = read_external_resnet18(upload, max_unpacked_bytes=max_unpacked_bytes)
    try:
        loaded = load_backbone_weights(create_model(model_name, num_classes), external.state_dict)
    except RuntimeError:  # a tensor that passed every check and still cannot be copied in
        raise ValueError("the file's tensors cannot be copied into the network") from None
    with atomic_path(destination) as temporary:
        torch.save(external.state_dict, temporary)
    return {
        "loaded": len(loaded.loaded),
        "adapted": list(external.adapted),
        "left_out": list(external.left_out),
    }


def load_backbone_weights_file(path: Path) -> dict[str, Any]:
    """The stored (already adapted) backbone state dict, for training and pre-training to start from."""
    from ml_engine.models.external_weights import load_weights_file

    weights = load_weights_file(path)
    if not isinstance(weights, dict):
        raise ValueError("the project's stored starting weights hold no state dict")
    return weights
