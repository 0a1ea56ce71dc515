from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from ml_engine.checkpoint import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from ml_engine.models import create_model
from ml_engine.training import TrainConfig


def _model():
    torch.manual_seed(0)
    model = create_model("small_cnn", 3, dropout=0.2, width=8)
    model.train()
    with torch.no_grad():
        model(torch.randn(6, 1, 16, 16) * 2 + 1)  # non-default BatchNorm statistics
    return model.eval()


def test_round_trip_gives_the_same_outputs_and_metadata(tmp_path):
    model = _model()
    path = save_checkpoint(
        tmp_path / "models" / "m.pt",
        model,
        class_names=["a", "b", "c"],
        image_size=16,
        config=TrainConfig(model="small_cnn", epochs=2),
        metrics={"val_accuracy": np.float64(0.5), "confusion": np.eye(2, dtype=np.int64)},
        model_version=7,
    )
    loaded, info = load_checkpoint(path, "cpu")
    images = torch.randn(4, 1, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(loaded(images), model(images), rtol=0, atol=0)
    assert not loaded.training
    assert info.class_names == ("a", "b", "c") and info.image_size == 16 and info.model_version == 7
    assert info.model_kwargs == {"in_channels": 1, "width": 8, "dropout": 0.2}
    assert info.config["epochs"] == 2 and info.metrics == {"val_accuracy": 0.5, "confusion": [[1, 0], [0, 1]]}
    assert info.normalisation.mean == 0.5


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path, monkeypatch):
    model, path = _model(), tmp_path / "m.pt"
    save_checkpoint(path, model, class_names="abc", image_size=16, model_version=1)
    original = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, class_names="abc", image_size=16, model_version=2)
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["m.pt"]


def test_wrong_format_version_and_missing_keys_are_rejected(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", _model(), class_names="abc", image_size=16)
    payload = read_checkpoint(path)
    torch.save({**payload, "format_version": 99}, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="format 99"):
        load_checkpoint(tmp_path / "future.pt")
    del payload["class_names"]
    torch.save(payload, tmp_path / "partial.pt")
    with pytest.raises(CheckpointError, match="class_names"):
        load_checkpoint(tmp_path / "partial.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(tmp_path / "junk.pt")


def test_weights_that_do_not_fit_are_rejected(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", _model(), class_names="abc", image_size=16)
    payload = read_checkpoint(path)
    payload["state_dict"].pop("classifier.bias")
    torch.save(payload, tmp_path / "broken.pt")
    with pytest.raises(CheckpointError, match=r"classifier\.bias"):
        load_checkpoint(tmp_path / "broken.pt")


def test_class_names_must_match_the_head(tmp_path):
    with pytest.raises(CheckpointError, match="2 class names"):
        save_checkpoint(tmp_path / "m.pt", _model(), class_names=["a", "b"], image_size=16)
