"""Export a checkpoint in one or more formats with its model card: the entry point for callers.

The command line (``python -m ml_engine export-model``) and the web app's export job both
call :func:`export_checkpoint`. It loads the checkpoint, makes sample faces at the
checkpoint's image size and normalisation, embeds the card (without the file list, which
cannot contain the hash of the file it is embedded in) in TorchScript and ONNX files,
exports and verifies each format, and finally writes ``model_card.json`` and
``MODEL_CARD.md`` listing every verified file. :func:`zip_model_export` packs the files and the
card into the one zip the web app's owners download.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from ml_engine.atomic_write import atomic_zip
from ml_engine.checkpoint import CheckpointInfo, load_checkpoint
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
    model_version: int | str | None = None,
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
        model_version: the version to record in the card, the embedded metadata and the
            ``pytorch`` copy's ``model_version``, when the checkpoint does not carry the right one
            (the web app numbers versions after the checkpoint is written).
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
    run: dict[str, Any] = {
        "formats": formats,
        "out_dir": out_dir,
        "provenance": provenance,
        "sample_inputs": sample_inputs,
        "tolerance": tolerance,
        "progress": progress,
        "cancel": cancel,
    }
    if model_version is None or model_version == info.model_version:
        return _export(model, info, checkpoint_path, **run)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".versioned-") as scratch:
        versioned = Path(scratch) / Path(checkpoint_path).name
        payload = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
        torch.save({**payload, "model_version": model_version}, versioned)
        return _export(model, replace(info, model_version=model_version), versioned, **run)


def _export(
    model: torch.nn.Module,
    info: CheckpointInfo,
    checkpoint_path: str | os.PathLike[str],
    formats: Sequence[str],
    out_dir: str | os.PathLike[str],
    provenance: TrainingProvenance | None,
    sample_inputs: torch.Tensor | None,
    tolerance: float,
    progress: ProgressCallback | None,
    cancel: CancelFlag | None,
) -> ModelExport:
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


def zip_model_export(exported: ModelExport, path: str | os.PathLike[str]) -> Path:
    """One zip (stored, atomically written) of the exported model files and both model card files.

    A download is one file, and a model without its card is a model nobody can use safely: the
    card says the input size, normalisation and class order.
    """
    members = [Path(model.path) for model in exported.exports]
    members += [exported.card_markdown_path, exported.card_json_path]
    with atomic_zip(path) as archive:
        for member in members:
            archive.write(member, member.name)
    return Path(path)


def _metadata_for(format: str, metadata: dict[str, str]) -> dict[str, str]:
    key = {"torchscript": CARD_EXTRA_FILE, "onnx": CARD_METADATA_KEY}.get(format)
    return {key: metadata[key]} if key else {}
