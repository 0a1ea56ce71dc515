from __future__ import annotations

import numpy as np
import pytest
import torch

from ml_engine.data.dataset import FaceDataset
from ml_engine.data.transforms import eval_transform
from ml_engine.inference import mc_dropout, predict
from ml_engine.models import create_model
from ml_engine.progress import Cancelled


def _faces(n: int = 10, side: int = 16) -> FaceDataset:
    rng = np.random.default_rng(0)
    return FaceDataset(
        class_names=("a", "b", "c"),
        names=[f"f{i}" for i in range(n)],
        images=rng.integers(0, 256, (n, side, side), dtype=np.uint8),
        labels=np.full(n, -1),
        splits=np.array(["pool"] * n),
    )


def _trained_looking_model(dropout: float = 0.0):
    torch.manual_seed(0)
    model = create_model("small_cnn", 3, dropout=dropout)
    model.train()
    with torch.no_grad():  # give BatchNorm non-default running statistics
        model(torch.randn(8, 1, 16, 16) * 3 + 1)
    return model


def test_predict_matches_a_plain_eval_forward_in_dataset_order():
    faces, model = _faces(), _trained_looking_model()
    result = predict(model, faces, image_size=16, batch_size=4)
    assert result.probabilities.dtype == np.float32 and result.probabilities.shape == (10, 3)
    assert result.embeddings.shape == (10, model.embedding_dim) and result.mc_probabilities is None
    model.eval()
    with torch.no_grad():
        images = eval_transform(16)(torch.from_numpy(faces.images)[:, None])
        logits, embeddings = model.forward_with_embedding(images)
    np.testing.assert_allclose(result.probabilities, logits.softmax(1).numpy(), atol=1e-5)
    np.testing.assert_allclose(result.embeddings, embeddings.numpy(), atol=1e-5)


def test_mc_dropout_samples_differ_and_leave_batchnorm_untouched():
    faces, model = _faces(), _trained_looking_model(dropout=0.5)
    before = {key: value.clone() for key, value in model.state_dict().items()}
    result = predict(model, faces, image_size=16, batch_size=4, mc_dropout_passes=5)
    assert result.mc_probabilities.shape == (5, 10, 3)
    assert not np.allclose(result.mc_probabilities[0], result.mc_probabilities[1])
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert not model.training and not any(module.training for module in model.modules())


def test_mc_dropout_switches_on_only_dropout():
    model = _trained_looking_model(dropout=0.5)
    model.eval()
    with mc_dropout(model):
        training = {type(module).__name__ for module in model.modules() if module.training}
    assert training == {"Dropout"}
    assert not any(module.training for module in model.modules())


def test_mc_dropout_without_dropout_probability_gives_identical_passes():
    result = predict(_trained_looking_model(dropout=0.0), _faces(), image_size=16, mc_dropout_passes=3)
    np.testing.assert_allclose(result.mc_probabilities[0], result.mc_probabilities[2])
    np.testing.assert_allclose(result.mc_probabilities[0], result.probabilities, atol=1e-6)


def test_predict_can_be_cancelled_and_reports_progress():
    reports = []
    predict(_trained_looking_model(), _faces(), image_size=16, batch_size=4, progress=reports.append)
    assert [(r.step, r.steps) for r in reports] == [(1, 3), (2, 3), (3, 3)]
    with pytest.raises(Cancelled):
        predict(_trained_looking_model(), _faces(), image_size=16, cancel=lambda: True)
