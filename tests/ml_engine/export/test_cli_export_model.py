"""``python -m ml_engine export-model``: files, card and exit status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ml_engine.__main__ import main
from ml_engine.checkpoint import save_checkpoint
from ml_engine.models import create_model


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    model = create_model("small_cnn", 2, width=4).eval()
    return save_checkpoint(
        tmp_path / "ckpt.pt",
        model,
        class_names=("neutral", "happiness"),
        image_size=24,
        config={"strategy": "margin"},
        metrics={"accuracy": 0.5, "macro_f1": 0.5, "confusion": [[1, 1], [1, 1]]},
    )


def test_export_model_writes_verified_files_and_card(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "out"
    arguments = ["--format", "onnx", "--format", "pytorch", "--out", str(out)]
    provenance = ["--cycles", "4", "--labels-used", "100", "--ssl-method", "byol"]
    status = main(["export-model", "--checkpoint", str(checkpoint), *arguments, *provenance])
    assert status == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "MODEL_CARD.md",
        "model.onnx",
        "model.pt",
        "model_card.json",
    ]
    card = json.loads((out / "model_card.json").read_text())
    assert [e["format"] for e in card["exports"]] == ["onnx", "pytorch"]
    assert card["training"]["strategy"] == "margin"  # from the checkpoint's config
    assert (card["training"]["cycles"], card["training"]["labels_used"], card["training"]["ssl_method"]) == (
        4,
        100,
        "byol",
    )
    printed = capsys.readouterr().out
    assert "opset 17" in printed and "model_card.json" in printed


def test_failed_verification_exits_1_and_leaves_nothing(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "out"
    arguments = ["--format", "pytorch", "--out", str(out), "--tolerance", "-1"]
    status = main(["export-model", "--checkpoint", str(checkpoint), *arguments])
    assert status == 1
    assert "failed verification" in capsys.readouterr().err
    assert list(out.iterdir()) == []
