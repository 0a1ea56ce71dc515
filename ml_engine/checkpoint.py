"""Model checkpoints: one dict with everything needed to rebuild and use a classifier.

Like torchvision's reference checkpoints, a file is a plain dict (no pickled classes, so
``torch.load(weights_only=True)`` can read it): the weights, how to rebuild the network, the
class names, the input size and normalisation, the training config, metrics and the web
app's model version. Files are written with :func:`ml_engine.atomic_write.atomic_path`, so a
crash never leaves a half-written model where a reader looks.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ml_engine.atomic_write import atomic_path
from ml_engine.data.transforms import FACE_NORMALISATION, Normalisation
from ml_engine.device import resolve_device
from ml_engine.models import FaceClassifier, create_model

FORMAT_VERSION = 1
REQUIRED_KEYS = (
    "format_version",
    "model_name",
    "model_kwargs",
    "num_classes",
    "class_names",
    "image_size",
    "normalisation",
    "state_dict",
    "config",
    "metrics",
    "model_version",
)


class CheckpointError(ValueError):
    """The file is not a FaceLoop checkpoint this version can read."""


@dataclass(frozen=True)
class CheckpointInfo:
    """Everything in a checkpoint except the weights."""

    model_name: str
    model_kwargs: dict[str, Any]
    num_classes: int
    class_names: tuple[str, ...]
    image_size: int
    normalisation: Normalisation
    config: dict[str, Any]
    metrics: dict[str, Any]
    model_version: int | str | None
    format_version: int = FORMAT_VERSION


def _plain(values: Any) -> dict[str, Any]:
    """A dataclass or mapping as plain Python values (numpy scalars and arrays converted), so
    the checkpoint stays loadable with ``weights_only=True``."""
    if values is None:
        return {}
    if dataclasses.is_dataclass(values) and not isinstance(values, type):
        values = dataclasses.asdict(values)
    return json.loads(json.dumps(dict(values), default=_to_builtin))


def _to_builtin(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint")


def checkpoint_dict(
    model: FaceClassifier,
    *,
    class_names: Sequence[str],
    image_size: int,
    config: Any = None,
    metrics: Mapping[str, Any] | None = None,
    model_version: int | str | None = None,
    normalisation: Normalisation = FACE_NORMALISATION,
) -> dict[str, Any]:
    """The checkpoint of ``model`` as a dict (weights copied to the CPU)."""
    if not model.model_name:
        raise CheckpointError(
            "the model was not built by create_model, so it cannot be rebuilt from a checkpoint"
        )
    if len(class_names) != model.num_classes:
        raise CheckpointError(f"{len(class_names)} class names for a model with {model.num_classes} outputs")
    return {
        "format_version": FORMAT_VERSION,
        "model_name": model.model_name,
        "model_kwargs": dict(model.model_kwargs),
        "num_classes": model.num_classes,
        "class_names": list(class_names),
        "image_size": int(image_size),
        "normalisation": dataclasses.asdict(normalisation),
        "state_dict": {key: value.detach().cpu().clone() for key, value in model.state_dict().items()},
        "config": _plain(config),
        "metrics": _plain(metrics),
        "model_version": model_version,
    }


def save_checkpoint(path: str | os.PathLike[str], model: FaceClassifier, **fields: Any) -> Path:
    """Write ``model``'s checkpoint to ``path`` atomically; ``fields`` as for :func:`checkpoint_dict`.

    Returns:
        The path written.
    """
    target = Path(path)
    payload = checkpoint_dict(model, **fields)
    with atomic_path(target) as temporary, open(temporary, "wb") as handle:
        torch.save(payload, handle)
    return target


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load and validate the raw checkpoint dict (weights on the CPU).

    Raises:
        CheckpointError: unreadable file, wrong format version, or missing keys.
    """
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as error:
        raise CheckpointError(f"cannot read checkpoint {path}: {error}") from error
    if not isinstance(payload, dict) or "format_version" not in payload:
        raise CheckpointError(f"{path} is not a FaceLoop checkpoint (no format_version)")
    if payload["format_version"] != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {payload['format_version']}; this version reads format {FORMAT_VERSION}"
        )
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise CheckpointError(f"{path} lacks checkpoint keys {missing}")
    return payload


def load_checkpoint(
    path: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> tuple[FaceClassifier, CheckpointInfo]:
    """Rebuild the classifier saved at ``path`` on ``device``, in eval mode.

    The weights must match the rebuilt network exactly (``strict=True``).
    """
    payload = read_checkpoint(path)
    model = create_model(payload["model_name"], payload["num_classes"], **payload["model_kwargs"])
    try:
        model.load_state_dict(payload["state_dict"], strict=True)
    except RuntimeError as error:
        raise CheckpointError(f"{path}: weights do not match {payload['model_name']}: {error}") from error
    info = CheckpointInfo(
        model_name=payload["model_name"],
        model_kwargs=dict(payload["model_kwargs"]),
        num_classes=payload["num_classes"],
        class_names=tuple(payload["class_names"]),
        image_size=payload["image_size"],
        normalisation=Normalisation(**payload["normalisation"]),
        config=payload["config"],
        metrics=payload["metrics"],
        model_version=payload["model_version"],
        format_version=payload["format_version"],
    )
    return model.to(resolve_device(device)).eval(), info
