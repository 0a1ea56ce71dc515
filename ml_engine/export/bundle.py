"""Export a checkpoint in one or more formats with its model card: the entry point for callers.

The command line (``python -m ml_engine export-model``) and the web app's export job both
call :func:`export_checkpoint`. It loads the checkpoint, makes sample faces at the
checkpoint's image size and normalisation, embeds the card (without the file list, which
cannot contain the hash of the file it is embedded in) in TorchScript and ONNX files,
exports and verifies each format, and finally writes ``model_card.json`` and
``MODEL_CARD.md`` listing every verified file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ml_engine.checkpoint import load_checkpoint
from ml_engine.export.model_card import TrainingProvenance, build_model_card, card_json, write_model_card
from ml_engine.export.model_export import (
    CARD_EXTRA_FILE,
    CARD_METADATA_KEY,
    FORMATS,
    ExportedModel,
    export_model,
    sample_faces,
)
from ml_engine.export.model_verification import TOLERANCE
from ml_engine.progress import CancelFlag, Cancelled, Progress, ProgressCallback


@dataclass(frozen=True)
class ModelExport:
    """The verified files and the card of one :func:`export_checkpoint` call."""

    exports: tuple[ExportedModel, ...]
    card: dict
    card_json_path: Path
    card_markdown_path: Path


def export_checkpoint(
    checkpoint_path: str | os.PathLike[str],
    formats: Sequence[str],
    out_dir: str | os.PathLike[str],
    *,
    provenance: TrainingProvenance | None = None,
    sample_inputs: torch.Tensor | None = None,
    tolerance: float = TOLERANCE,
    progress: ProgressCallback | None = None,
    cancel: CancelFlag | None = None,
) -> ModelExport:
    """Export the checkpoint at ``checkpoint_path`` as each of ``formats`` into ``out_dir``.

    Args:
        checkpoint_path: a FaceLoop checkpoint (:func:`ml_engine.checkpoint.save_checkpoint`).
        formats: any of ``pytorch``, ``torchscript``, ``onnx``.
        out_dir: destination folder.
        provenance: labels used, strategy, cycles, SSL method...; fields left ``None`` are
            taken from the checkpoint's training config where it records them.
        sample_inputs: normalised faces to verify on; default :func:`sample_faces` at the
            checkpoint's image size and normalisation. Pass real faces of the project to
            verify on the data the model will see.
        tolerance: largest allowed absolute logit difference.
        progress, cancel: one report per format; cancellation between formats.

    Raises:
        ExportVerificationError: an export did not match (the files verified before it remain).
        CheckpointError: the checkpoint cannot be read.
        ValueError: an unknown or repeated format.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats or len(set(formats)) != len(formats):
        raise ValueError(f"formats must be distinct values from {FORMATS}, got {list(formats)}")
    model, info = load_checkpoint(checkpoint_path, "cpu")
    provenance = TrainingProvenance.from_config(info.config, **asdict(provenance or TrainingProvenance()))
    if sample_inputs is None:
        sample_inputs = sample_faces(info.image_size, info.normalisation)
    parameters = sum(p.numel() for p in model.parameters())
    embedded = card_json(build_model_card(info, provenance, parameters=parameters))
    metadata = {CARD_EXTRA_FILE: embedded, CARD_METADATA_KEY: embedded}
    exports = []
    for step, format in enumerate(formats):
        if cancel is not None and cancel():
            raise Cancelled(f"model export cancelled before {format}")
        if progress is not None:
            progress(Progress("export_model", epoch=1, epochs=1, step=step, steps=len(formats)))
        exports.append(
            export_model(
                model,
                format,
                out_dir,
                sample_inputs,
                checkpoint_path=checkpoint_path,
                metadata=_metadata_for(format, metadata),
                tolerance=tolerance,
            )
        )
    card = build_model_card(info, provenance, exports, parameters=parameters)
    json_path, markdown_path = write_model_card(out_dir, card)
    if progress is not None:
        progress(Progress("export_model", epoch=1, epochs=1, step=len(formats), steps=len(formats)))
    return ModelExport(tuple(exports), card, json_path, markdown_path)


def _metadata_for(format: str, metadata: dict[str, str]) -> dict[str, str]:
    key = {"torchscript": CARD_EXTRA_FILE, "onnx": CARD_METADATA_KEY}.get(format)
    return {key: metadata[key]} if key else {}
