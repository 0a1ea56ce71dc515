"""Export a trained face classifier as a PyTorch checkpoint, TorchScript or ONNX, verified.

Every exported model takes ``(B, 1, S, S)`` float32 faces, normalised as
``(pixel / 255 - mean) / std`` (the checkpoint's normalisation, recorded in the model card),
and returns ``(B, C)`` **logits**; apply ``softmax`` over the last axis for probabilities.
Logits are exported rather than probabilities so the file matches the PyTorch model exactly
and callers can pick their own calibration (temperature) or take the arg-max directly.

* ``pytorch``: a byte copy of the FaceLoop checkpoint (weights, class names, normalisation,
  how to rebuild the network), loadable with :func:`ml_engine.checkpoint.load_checkpoint`.
* ``torchscript``: ``torch.jit.trace`` of the eval-mode model (dropout off, BatchNorm using
  its running statistics), loadable with ``torch.jit.load`` without FaceLoop installed.
  The model card JSON is embedded as the extra file ``faceloop/model_card.json``.
* ``onnx``: the TorchScript-based exporter (``dynamo=False``; it works offline and without
  ``onnxscript``, which the torch.export-based exporter needs) at opset :data:`ONNX_OPSET`,
  input ``faces`` and output ``logits``, both with a dynamic batch axis. The card JSON is
  stored in the model's ``metadata_props`` under ``faceloop_model_card``.

Each file is written under a temporary name, verified by running it with its own runtime
(:mod:`ml_engine.export.model_verification`: outputs within ``1e-4`` of PyTorch on sample
faces, as a batch and as a single face), and only then renamed into place. A failed
verification raises :class:`ExportVerificationError` and leaves nothing behind.
"""

from __future__ import annotations

import copy
import hashlib
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ml_engine.atomic_write import atomic_path
from ml_engine.data.transforms import FACE_NORMALISATION, EvalTransform, Normalisation
from ml_engine.export.model_verification import (
    TOLERANCE,
    ExportVerificationError,
    quiet_torchscript,
    verify_export,
)

FORMATS = ("pytorch", "torchscript", "onnx")
FILE_NAMES = {"pytorch": "model.pt", "torchscript": "model.torchscript.pt", "onnx": "model.onnx"}
ONNX_OPSET = 17
INPUT_NAME, OUTPUT_NAME = "faces", "logits"
CARD_EXTRA_FILE = "faceloop/model_card.json"
CARD_METADATA_KEY = "faceloop_model_card"

__all__ = ["ExportVerificationError", "ExportedModel", "export_model", "sample_faces"]


@dataclass(frozen=True)
class ExportedModel:
    """One verified export.

    Attributes:
        format: ``pytorch``, ``torchscript`` or ``onnx``.
        path: the file.
        sha256: hex digest of the file, so a copy can be checked later.
        max_abs_difference: largest |exported - PyTorch| logit seen during verification.
        tolerance: the bound it was checked against.
        samples: number of sample faces verified on.
        opset: the ONNX opset (``None`` for other formats).
    """

    format: str
    path: str
    sha256: str
    max_abs_difference: float
    tolerance: float
    samples: int
    opset: int | None = None


def sample_faces(
    image_size: int = 48, normalisation: Normalisation = FACE_NORMALISATION, count: int = 8, seed: int = 0
) -> torch.Tensor:
    """Deterministic ``(count, 1, S, S)`` model inputs: synthetic faces plus an all-black and an
    all-white frame (the extremes of the input range), through the eval transform."""
    from ml_engine.data.synthetic import generate_faces

    if count < 3:
        raise ValueError("need at least three sample faces (two extremes and one face)")
    faces = generate_faces(count - 2, seed, image_size, votes_per_face=0).images
    extremes = np.stack(
        [np.zeros((image_size, image_size), np.uint8), np.full((image_size, image_size), 255, np.uint8)]
    )
    pixels = torch.from_numpy(np.concatenate([faces, extremes]))[:, None]
    return EvalTransform(image_size, normalisation)(pixels)


def export_model(
    model: nn.Module,
    format: str,
    out_dir: str | os.PathLike[str],
    sample_inputs: torch.Tensor,
    *,
    checkpoint_path: str | os.PathLike[str] | None = None,
    metadata: Mapping[str, str] | None = None,
    tolerance: float = TOLERANCE,
) -> ExportedModel:
    """Export ``model`` as ``format`` into ``out_dir`` (file name from :data:`FILE_NAMES`), verified.

    Args:
        model: the classifier (``forward(x) -> logits``); it is copied, not changed.
        format: one of :data:`FORMATS`.
        out_dir: destination folder (created if needed).
        sample_inputs: ``(B >= 2, 1, S, S)`` normalised faces to verify on (:func:`sample_faces`).
        checkpoint_path: the checkpoint ``model`` was loaded from; required for ``pytorch``.
        metadata: strings to embed (TorchScript extra files / ONNX metadata_props), e.g.
            ``{CARD_EXTRA_FILE: card_json}``; ignored by ``pytorch``.
        tolerance: largest allowed absolute logit difference.

    Raises:
        ExportVerificationError: the export does not load or does not match (no file is left).
        ValueError: unknown format, or ``pytorch`` without ``checkpoint_path``.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown export format {format!r}; expected one of {FORMATS}")
    if format == "pytorch" and checkpoint_path is None:
        raise ValueError("the pytorch export copies a checkpoint: pass checkpoint_path")
    reference = copy.deepcopy(model).cpu().eval()
    inputs = sample_inputs.detach().float().cpu()
    destination = Path(out_dir) / FILE_NAMES[format]
    with atomic_path(destination) as temporary:
        if format == "pytorch":
            shutil.copyfile(checkpoint_path, temporary)  # type: ignore[arg-type]
        elif format == "torchscript":
            _write_torchscript(reference, inputs, temporary, metadata or {})
        else:
            _write_onnx(reference, inputs, temporary, metadata or {})
        difference = verify_export(temporary, format, reference, inputs, tolerance)
        digest = _sha256(temporary)
    return ExportedModel(
        format=format,
        path=str(destination),
        sha256=digest,
        max_abs_difference=difference,
        tolerance=tolerance,
        samples=len(inputs),
        opset=ONNX_OPSET if format == "onnx" else None,
    )


def _write_torchscript(
    model: nn.Module, inputs: torch.Tensor, path: Path, metadata: Mapping[str, str]
) -> None:
    """Trace ``model`` on two faces and save it with ``metadata`` as extra files."""
    with quiet_torchscript(), torch.no_grad():
        traced = torch.jit.trace(model, inputs[:2], check_trace=False)
        torch.jit.save(traced, str(path), _extra_files=dict(metadata))


def _write_onnx(model: nn.Module, inputs: torch.Tensor, path: Path, metadata: Mapping[str, str]) -> None:
    """Export ``model`` with a dynamic batch axis, then add ``metadata`` to its metadata_props."""
    import onnx

    with quiet_torchscript(), torch.no_grad():
        torch.onnx.export(
            model,
            (inputs[:2],),
            str(path),
            dynamo=False,
            opset_version=ONNX_OPSET,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
        )
    if metadata:
        proto = onnx.load(str(path))
        for key, value in metadata.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(proto, str(path))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
