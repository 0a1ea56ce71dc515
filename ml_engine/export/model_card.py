"""Model cards (Mitchell et al., FAT* 2019): what a FaceLoop model is, how it was made, how well it does.

A card travels with every model export as ``model_card.json`` (for programs) and
``MODEL_CARD.md`` (for people), and is embedded in the TorchScript and ONNX files. It lists

* the classes, in output order, and the input spec: size, channels (1, grayscale), dtype,
  normalisation ``(pixel / 255 - mean) / std``; the output is logits (softmax for
  probabilities);
* test metrics: accuracy, macro-F1, and per class precision, recall, F1 and support,
  derived from the confusion matrix stored in the checkpoint (recall alone when only that
  was stored); ``null`` / "not evaluated" when the project had no test set;
* provenance: labels used, query strategy, active-learning cycles, SSL pre-training method
  and training mode (the web app passes them; ``None`` is shown as "not recorded"), the
  training config, the model version and the creation date (UTC);
* the exported files with SHA-256, verification difference and tolerance, and the ONNX opset.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ml_engine.atomic_write import atomic_path
from ml_engine.checkpoint import CheckpointInfo
from ml_engine.export.model_export import INPUT_NAME, OUTPUT_NAME, ExportedModel
from ml_engine.json_values import json_safe

CARD_VERSION = 1
NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class TrainingProvenance:
    """How the model came about; ``None`` where the caller does not know."""

    labels_used: int | None = None
    strategy: str | None = None
    cycles: int | None = None
    ssl_method: str | None = None
    training_mode: str | None = None
    project: str | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **overrides: Any) -> TrainingProvenance:
        """Take the fields a training config happens to record, then apply non-None ``overrides``."""
        known = {name: config.get(name) for name in cls.__dataclass_fields__}
        known.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**known)


def per_class_metrics(metrics: Mapping[str, Any], class_names: Sequence[str]) -> list[dict[str, Any]]:
    """Precision, recall, F1 and support per class from ``metrics["confusion"]`` (rows = truth).

    ``F1 = 2 TP / (2 TP + FP + FN)``, which equals the harmonic mean of precision and recall
    and stays defined (0) for a class that is never predicted, as in scikit-learn.

    Falls back to ``metrics["per_class_recall"]`` (a list or a name -> value dict) when no
    confusion matrix was stored; undefined values (no faces, no predictions) are ``None``.
    """
    confusion = metrics.get("confusion")
    if confusion is not None:
        matrix = np.asarray(confusion, dtype=np.float64)
        true_positives, support, predicted = np.diag(matrix), matrix.sum(axis=1), matrix.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            recall, precision = true_positives / support, true_positives / predicted
            f1 = 2 * true_positives / (support + predicted)
        columns = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    else:
        recall = metrics.get("per_class_recall") or {}
        values = [recall.get(name) for name in class_names] if isinstance(recall, Mapping) else list(recall)
        columns = {"recall": np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)}
    rows = []
    for index, name in enumerate(class_names):
        row: dict[str, Any] = {"class": name}
        for key, values in columns.items():
            value = float(values[index]) if index < len(values) else math.nan
            row[key] = None if math.isnan(value) else (int(value) if key == "support" else value)
        rows.append(row)
    return rows


def build_model_card(
    info: CheckpointInfo,
    provenance: TrainingProvenance,
    exports: Sequence[ExportedModel] = (),
    *,
    parameters: int | None = None,
    created: datetime | None = None,
) -> dict[str, Any]:
    """The card as a JSON-ready dict (see the module docstring for its contents)."""
    metrics = info.metrics or {}
    evaluated = bool(metrics)
    size = info.image_size
    card = {
        "card_version": CARD_VERSION,
        "created": (created or datetime.now(UTC)).isoformat(timespec="seconds"),
        "classes": list(info.class_names),
        "model": {
            "architecture": info.model_name,
            "options": info.model_kwargs,
            "parameters": parameters,
            "model_version": info.model_version,
        },
        "input": {
            "name": INPUT_NAME,
            "shape": ["batch", 1, size, size],
            "dtype": "float32",
            "channels": 1,
            "color": "grayscale",
            "image_size": size,
            "normalisation": {**asdict(info.normalisation), "formula": "(pixel / 255 - mean) / std"},
        },
        "output": {
            "name": OUTPUT_NAME,
            "shape": ["batch", len(info.class_names)],
            "meaning": "logits in class order; softmax over the last axis gives probabilities",
        },
        "metrics": {
            "evaluated": evaluated,
            "accuracy": metrics.get("accuracy"),
            "macro_f1": metrics.get("macro_f1"),
            "per_class": per_class_metrics(metrics, info.class_names) if evaluated else [],
        },
        "training": {**asdict(provenance), "config": info.config},
        "exports": [asdict(export) for export in exports],
        "onnx_opset": next((e.opset for e in exports if e.opset is not None), None),
    }
    return json_safe(card)


def card_json(card: Mapping[str, Any]) -> str:
    """The card as indented JSON (NaN-free; ``None`` for missing values)."""
    return json.dumps(card, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def card_markdown(card: Mapping[str, Any]) -> str:
    """The card as Markdown for people: summary, input spec, metrics table, provenance, files."""
    model, spec, training = card["model"], card["input"], card["training"]
    norm = spec["normalisation"]
    lines = [
        f"# Model card: {model['architecture']} facial-expression classifier",
        "",
        f"Created {card['created']} (UTC). Model version: {_text(model['model_version'])}.",
        "",
        "## Classes (output order)",
        "",
        ", ".join(f"{i}: {name}" for i, name in enumerate(card["classes"])),
        "",
        "## Input and output",
        "",
        f"- Input `{spec['name']}`: float32 tensor (batch, 1, {spec['image_size']}, {spec['image_size']}), "
        f"{spec['channels']} channel ({spec['color']}).",
        f"- Normalisation: `{norm['formula']}` with mean {norm['mean']} and std {norm['std']}.",
        f"- Output `{card['output']['name']}`: {card['output']['meaning']}.",
        "",
        *_metrics_markdown(card["metrics"]),
        "## Training",
        "",
        *(f"- {label}: {_text(training[key])}" for key, label in _PROVENANCE_LABELS),
        "",
        *_exports_markdown(card),
    ]
    return "\n".join(lines)


_PROVENANCE_LABELS = (
    ("project", "Project"),
    ("labels_used", "Labels used"),
    ("strategy", "Query strategy"),
    ("cycles", "Active-learning cycles"),
    ("ssl_method", "Self-supervised pre-training"),
    ("training_mode", "Training mode"),
)


def _text(value: Any) -> str:
    return NOT_RECORDED if value is None else str(value)


def _number(value: float | int | None) -> str:
    return "n/a" if value is None else (str(value) if isinstance(value, int) else f"{value:.3f}")


def _metrics_markdown(metrics: Mapping[str, Any]) -> list[str]:
    if not metrics["evaluated"]:
        return ["## Test metrics", "", "Not evaluated: the project had no labelled test set.", ""]
    keys = [key for key in ("precision", "recall", "f1", "support") if key in metrics["per_class"][0]]
    header = ["| class | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    rows = [
        f"| {r['class']} | " + " | ".join(_number(r[k]) for k in keys) + " |" for r in metrics["per_class"]
    ]
    summary = f"Accuracy {_number(metrics['accuracy'])}, macro-F1 {_number(metrics['macro_f1'])}."
    return ["## Test metrics", "", summary, "", *header, *rows, ""]


def _exports_markdown(card: Mapping[str, Any]) -> list[str]:
    if not card["exports"]:
        return []
    lines = ["## Files", "", "| format | file | verified max abs. difference | sha256 |", "|---|---|---|---|"]
    for export in card["exports"]:
        name = Path(export["path"]).name
        lines.append(
            f"| {export['format']} | {name} | {export['max_abs_difference']:.2e} | `{export['sha256']}` |"
        )
    if card["onnx_opset"] is not None:
        lines += ["", f"ONNX opset {card['onnx_opset']}."]
    return [*lines, ""]


def write_model_card(out_dir: str | os.PathLike[str], card: Mapping[str, Any]) -> tuple[Path, Path]:
    """Write ``model_card.json`` and ``MODEL_CARD.md`` into ``out_dir`` (each atomically)."""
    paths = (Path(out_dir) / "model_card.json", Path(out_dir) / "MODEL_CARD.md")
    for path, text in zip(paths, (card_json(card), card_markdown(card)), strict=True):
        with atomic_path(path) as temporary:
            temporary.write_text(text, encoding="utf-8")
    return paths
