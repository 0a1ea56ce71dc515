"""Model card: every field present, per-class metrics against a hand-computed confusion matrix."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ml_engine.checkpoint import CheckpointInfo
from ml_engine.data.transforms import Normalisation
from ml_engine.export.model_card import (
    TrainingProvenance,
    build_model_card,
    card_markdown,
    per_class_metrics,
    write_model_card,
)
from ml_engine.export.model_export import ExportedModel

CLASSES = ("neutral", "happiness", "surprise")
CONFUSION = [[3, 1, 0], [0, 4, 0], [1, 1, 0]]  # rows true, columns predicted; surprise never predicted


def info(metrics: dict | None = None, config: dict | None = None) -> CheckpointInfo:
    return CheckpointInfo(
        model_name="small_cnn",
        model_kwargs={"width": 4, "dropout": 0.0},
        num_classes=3,
        class_names=CLASSES,
        image_size=40,
        normalisation=Normalisation(mean=0.5, std=0.25),
        config=config or {},
        metrics={"accuracy": 0.7, "macro_f1": 0.5, "confusion": CONFUSION} if metrics is None else metrics,
        model_version=12,
    )


ONNX_EXPORT = ExportedModel("onnx", "/x/model.onnx", "ab" * 32, 3e-7, 1e-4, 8, 17)
PROVENANCE = TrainingProvenance(
    labels_used=240, strategy="least_confidence", cycles=3, ssl_method="simclr", training_mode="supervised"
)


def test_card_has_every_field() -> None:
    created = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    card = build_model_card(info(), PROVENANCE, [ONNX_EXPORT], parameters=1234, created=created)
    assert card["created"] == "2026-11-23T12:00:00+00:00"
    assert card["classes"] == list(CLASSES)
    assert card["model"] == {
        "architecture": "small_cnn",
        "options": {"width": 4, "dropout": 0.0},
        "parameters": 1234,
        "model_version": 12,
    }
    assert card["input"] == {
        "name": "faces",
        "shape": ["batch", 1, 40, 40],
        "dtype": "float32",
        "channels": 1,
        "color": "grayscale",
        "image_size": 40,
        "normalisation": {"mean": 0.5, "std": 0.25, "formula": "(pixel / 255 - mean) / std"},
    }
    assert card["output"]["name"] == "logits" and "softmax" in card["output"]["meaning"]
    assert card["output"]["shape"] == ["batch", 3]
    assert card["metrics"]["accuracy"] == 0.7 and card["metrics"]["macro_f1"] == 0.5
    assert card["training"] == {
        "labels_used": 240,
        "strategy": "least_confidence",
        "cycles": 3,
        "ssl_method": "simclr",
        "training_mode": "supervised",
        "project": None,
        "config": {},
    }
    assert card["exports"][0]["sha256"] == "ab" * 32 and card["onnx_opset"] == 17
    json.dumps(card, allow_nan=False)


def test_per_class_metrics_from_confusion() -> None:
    rows = per_class_metrics({"confusion": CONFUSION}, CLASSES)
    assert rows[0] == {"class": "neutral", "precision": 0.75, "recall": 0.75, "f1": 0.75, "support": 4}
    assert rows[1]["precision"] == pytest.approx(4 / 6) and rows[1]["recall"] == 1.0
    assert rows[1]["f1"] == pytest.approx(2 * (4 / 6) / (4 / 6 + 1))
    assert rows[2] == {"class": "surprise", "precision": None, "recall": 0.0, "f1": 0.0, "support": 2}


@pytest.mark.parametrize(
    "recall", [[0.5, math.nan, 1.0], {"neutral": 0.5, "happiness": None, "surprise": 1.0}]
)
def test_per_class_recall_fallback(recall) -> None:
    rows = per_class_metrics({"per_class_recall": recall}, CLASSES)
    assert rows == [
        {"class": "neutral", "recall": 0.5},
        {"class": "happiness", "recall": None},
        {"class": "surprise", "recall": 1.0},
    ]


def test_markdown_shows_everything_and_unknowns(tmp_path: Path) -> None:
    card = build_model_card(info(), TrainingProvenance(strategy="badge"), [ONNX_EXPORT])
    text = card_markdown(card)
    for expected in [
        "0: neutral, 1: happiness, 2: surprise",
        "(batch, 1, 40, 40)",
        "mean 0.5 and std 0.25",
        "| surprise | n/a | 0.000 | 0.000 | 2 |",
        "Accuracy 0.700, macro-F1 0.500.",
        "- Query strategy: badge",
        "- Labels used: not recorded",
        "- Active-learning cycles: not recorded",
        "- Self-supervised pre-training: not recorded",
        "ONNX opset 17.",
        "ab" * 32,
        card["created"],
    ]:
        assert expected in text, expected
    json_path, markdown_path = write_model_card(tmp_path, card)
    assert json.loads(json_path.read_text()) == card and markdown_path.read_text() == text


def test_unevaluated_model_and_nan_metrics() -> None:
    card = build_model_card(info(metrics={}), PROVENANCE)
    assert card["metrics"] == {"evaluated": False, "accuracy": None, "macro_f1": None, "per_class": []}
    assert "Not evaluated" in card_markdown(card)
    nan_card = build_model_card(info(metrics={"accuracy": math.nan, "confusion": CONFUSION}), PROVENANCE)
    assert nan_card["metrics"]["accuracy"] is None
    json.dumps(nan_card, allow_nan=False)


def test_provenance_from_config_with_overrides() -> None:
    config = {"strategy": "entropy", "cycles": 5, "epochs": 30}
    merged = TrainingProvenance.from_config(config, cycles=7, ssl_method=None)
    assert merged == TrainingProvenance(strategy="entropy", cycles=7)
