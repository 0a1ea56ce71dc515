from __future__ import annotations

import numpy as np
import pytest
import torch

from ml_engine.data.dataset import FaceDataset
from ml_engine.models import WeightsMismatchError, create_model
from ml_engine.progress import Cancelled
from ml_engine.training import TrainConfig, fit
from ml_engine.training.loop import class_weights


def _faces(n: int = 40, seed: int = 0, unlabelled: int = 0) -> FaceDataset:
    """Two separable classes: class 1 has a bright square in the middle."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    images = rng.integers(0, 80, (n, 16, 16)).astype(np.uint8)
    images[labels == 1, 5:11, 5:11] += 150
    labels[:unlabelled] = -1
    return FaceDataset(
        ("plain", "square"), [f"f{i}" for i in range(n)], images, labels, np.array(["train"] * n)
    )


def _config(**overrides) -> TrainConfig:
    settings = {
        "model": "small_cnn",
        "model_kwargs": {"width": 8},
        "image_size": 16,
        "epochs": 2,
        "batch_size": 8,
    }
    return TrainConfig(**(settings | overrides))


def test_training_loss_falls_and_separable_faces_are_learned():
    result = fit(_config(epochs=4, lr=0.05), _faces(), _faces(seed=1))
    losses = [record["train_loss"] for record in result.history]
    assert losses[-1] < 0.5 * losses[0]
    assert result.metrics["val_accuracy"] >= 0.9
    assert not result.model.training


def test_same_seed_same_weights_other_seed_other_weights():
    first = fit(_config(seed=3), _faces()).model.state_dict()
    second = fit(_config(seed=3), _faces()).model.state_dict()
    third = fit(_config(seed=4), _faces()).model.state_dict()
    assert all(torch.equal(first[key], second[key]) for key in first)
    assert not torch.equal(first["classifier.weight"], third["classifier.weight"])


def test_progress_is_reported_per_step_and_per_epoch():
    reports = []
    fit(_config(epochs=2), _faces(n=20), _faces(n=8, seed=1), progress=reports.append)
    steps = [(r.epoch, r.step) for r in reports if not r.metrics]
    assert steps == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)]
    epoch_reports = [r for r in reports if r.metrics]
    assert [r.epoch for r in epoch_reports] == [1, 2]
    assert "val_accuracy" in epoch_reports[0].metrics and epoch_reports[-1].fraction == 1.0
    assert all(r.loss is not None and r.stage == "train" for r in reports)


def test_cancel_is_checked_every_step():
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) == 3

    reports = []
    with pytest.raises(Cancelled, match="epoch 1, step 3"):
        fit(_config(), _faces(), progress=reports.append, cancel=cancel)
    assert len(reports) == 2


def test_unlabelled_faces_are_not_trained_on():
    reports = []
    fit(_config(epochs=1), _faces(n=24, unlabelled=8), progress=reports.append)
    assert reports[0].steps == 2  # 16 labelled faces / batch 8


def test_initial_weights_are_really_used_and_the_head_starts_fresh():
    torch.manual_seed(11)
    pretrained = create_model("small_cnn", 2, width=8)
    frozen = _config(epochs=1, lr=0.0, weight_decay=0.0)
    model = fit(frozen, _faces(), initial_weights=pretrained.backbone.state_dict()).model
    for name, value in pretrained.backbone.named_parameters():
        assert torch.equal(model.backbone.get_parameter(name), value), name
    assert not torch.equal(model.classifier.weight, pretrained.classifier.weight)
    scratch = fit(frozen, _faces()).model
    assert not torch.equal(
        scratch.backbone.get_parameter("0.0.weight"), pretrained.backbone.get_parameter("0.0.weight")
    )


def test_initial_weights_that_do_not_fit_fail_loudly():
    wrong = create_model("small_cnn", 2, width=4).backbone.state_dict()
    with pytest.raises(WeightsMismatchError, match="shape mismatch"):
        fit(_config(epochs=1), _faces(), initial_weights=wrong)


def test_one_hot_targets_train_exactly_like_hard_labels():
    faces = _faces()
    hard = fit(_config(), faces).model.state_dict()
    soft = fit(_config(), faces, targets=np.eye(2, dtype=np.float32)[faces.labels]).model.state_dict()
    for key in hard:
        torch.testing.assert_close(soft[key], hard[key], rtol=1e-4, atol=1e-5)


def test_custom_loss_sees_every_face_with_its_index():
    faces = _faces(n=12, unlabelled=4)
    seen, epochs = [], []

    class RecordingLoss:
        def start_epoch(self, epoch: int, total: int) -> None:
            epochs.append((epoch, total))

        def __call__(self, logits, labels, indices):
            seen.extend(indices.tolist())
            np.testing.assert_array_equal(labels.numpy(), faces.labels[indices.numpy()])
            return torch.nn.functional.cross_entropy(logits, labels.clamp(min=0))

    fit(_config(epochs=2), faces, loss=RecordingLoss())
    assert sorted(seen) == sorted(list(range(12)) * 2)
    assert epochs == [(1, 2), (2, 2)]


def test_early_stopping_restores_the_best_epoch():
    # lr 0.5 without momentum makes validation accuracy jump around; patience 1 stops early.
    result = fit(
        _config(epochs=6, lr=0.5, momentum=0.0, patience=1, schedule="constant"), _faces(), _faces(seed=5)
    )
    accuracies = [record["val_accuracy"] for record in result.history]
    best_epoch = result.metrics["best_epoch"]
    assert accuracies[best_epoch - 1] == max(accuracies) == result.metrics["val_accuracy"]
    assert len(accuracies) <= 6


def test_class_weights_are_inverse_frequency():
    np.testing.assert_allclose(class_weights(np.array([30, 10, 0])), [40 / (2 * 30), 40 / (2 * 10), 0.0])


def test_class_weighted_loss_changes_training_on_imbalanced_data():
    faces = _faces().subset(np.r_[np.arange(0, 40, 2), np.arange(1, 12, 2)])  # 20 vs 6
    plain = fit(_config(epochs=1), faces).model.classifier.weight
    weighted = fit(_config(epochs=1, class_weighted=True), faces).model.classifier.weight
    assert not torch.allclose(plain, weighted)


def test_validation_set_without_labels_is_rejected():
    with pytest.raises(ValueError, match="no labelled faces"):
        fit(_config(), _faces(), _faces(n=4, unlabelled=4))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fit_on_cuda_with_amp_and_workers():
    result = fit(_config(epochs=3, lr=0.05, num_workers=2), _faces(), _faces(seed=1), device="cuda")
    assert next(result.model.parameters()).device.type == "cuda"
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.metrics["val_accuracy"] >= 0.9
