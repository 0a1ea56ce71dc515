from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ml_engine.data.dataset import FaceDataset
from ml_engine.data.transforms import eval_transform
from ml_engine.models import FaceClassifier, list_models, register_model
from ml_engine.training import TrainConfig, semi_supervised
from ml_engine.training.adaptive_margin import class_confidence, confirmable_pseudo_labels, scheduled_margins
from ml_engine.training.losses import info_nce
from ml_engine.training.semi_supervised import SemiSupervisedConfig, train_semi_supervised
from ml_engine.training.semi_supervised_loop import SemiSupervisedStep

CLASSES = 3
SIZE = 8


class FirstPixels(nn.Module):
    """A fake backbone: the normalised first ``CLASSES`` pixels of the top row are the features."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images[:, 0, 0, :CLASSES]


if "fixed_logits_for_tests" not in list_models():

    @register_model("fixed_logits_for_tests")
    def _fixed_logits(*, in_channels: int = 1) -> tuple[nn.Module, int]:
        return FirstPixels(), CLASSES


def _identity_head(model: FaceClassifier) -> FaceClassifier:
    with torch.no_grad():
        model.classifier.weight.copy_(torch.eye(CLASSES))
        model.classifier.bias.zero_()
    return model


def _logits_of(pixels: np.ndarray) -> torch.Tensor:
    """The fake model's logits for top-row pixels (FaceLoop's normalisation: mean .5, std .25)."""
    return torch.as_tensor((pixels / 255.0 - 0.5) / 0.25, dtype=torch.float32)


def _faces(top_rows: np.ndarray, labels: np.ndarray) -> FaceDataset:
    images = np.zeros((len(top_rows), SIZE, SIZE), dtype=np.uint8)
    images[:, 0, :CLASSES] = top_rows
    names = [f"f{i}" for i in range(len(images))]
    return FaceDataset(("a", "b", "c"), names, images, labels, np.array(["train"] * len(images)))


def test_schedule_values() -> None:
    confidence = np.array([1.0, 0.9, np.nan])
    np.testing.assert_allclose(scheduled_margins(confidence, 1), [0.8, 0.8, 0.8])  # 0.97/1.368 < 0.8
    expected = [max(0.8, 0.97 * c / (1 + math.exp(-3))) for c in (1.0, 0.9)] + [0.8]
    np.testing.assert_allclose(scheduled_margins(confidence, 3), expected)
    assert scheduled_margins(np.array([1.0]), 3)[0] == pytest.approx(0.9240, abs=1e-4)
    assert scheduled_margins(np.array([1.0]), 50)[0] == pytest.approx(0.97)
    assert scheduled_margins(np.array([1.0]), 2, gamma=2.0, floor=0.0)[0] == pytest.approx(0.97 / 1.25)
    with pytest.raises(ValueError):
        scheduled_margins(confidence, 0)


def test_class_confidence_uses_only_correct_predictions() -> None:
    probabilities = np.array(
        [[0.9, 0.1, 0.0], [0.7, 0.2, 0.1], [0.6, 0.4, 0.0], [0.2, 0.3, 0.5], [0.1, 0.1, 0.8]]
    )
    labels = np.array([0, 0, 1, 2, -1])  # face 2 is wrong, face 4 unlabeled
    np.testing.assert_allclose(class_confidence(probabilities, labels, 3), [0.8, np.nan, 0.5])


def test_margins_follow_the_schedule_on_a_fixed_model(monkeypatch: pytest.MonkeyPatch) -> None:
    # Labeled faces with known logits: class a right twice, class b right once and wrong
    # once, class c never right.
    rows = np.array([[255, 0, 0], [200, 0, 0], [0, 255, 0], [255, 0, 0], [0, 255, 0], [0, 255, 0]])
    labels = np.array([0, 0, 1, 1, 2, 2])
    probabilities = _logits_of(rows).softmax(dim=1).numpy()
    known = [probabilities[[0, 1]].max(axis=1).mean(), probabilities[2].max(), math.nan]
    config = SemiSupervisedConfig(
        model="fixed_logits_for_tests",
        image_size=SIZE,
        epochs=4,
        lr=0.0,
        labeled_batch_size=3,
        unlabeled_batch_size=3,
    )
    pool = _faces(rows, np.full(len(rows), -1))
    original = semi_supervised.create_model_with_weights
    monkeypatch.setattr(
        semi_supervised,
        "create_model_with_weights",
        lambda *args, **kwargs: _identity_head(original(*args, **kwargs)),
    )
    # lr 0: the model never changes, so the margins depend only on the epoch.
    result = train_semi_supervised(config, _faces(rows, labels), pool)
    expected = [[0.8] * 3] + [scheduled_margins(np.array(known), epoch).tolist() for epoch in (1, 2, 3)]
    np.testing.assert_allclose(result.margins, expected, rtol=1e-5)
    np.testing.assert_allclose(result.final_margins, scheduled_margins(np.array(known), 4), rtol=1e-5)
    assert result.margins[2][0] > 0.8 and result.margins[2][2] == 0.8  # schedule, and the floor


def test_step_masks_by_class_margin_and_averages_over_the_batch() -> None:
    model = _identity_head(FaceClassifier(FirstPixels(), CLASSES, CLASSES))
    identity = eval_transform(SIZE)
    step = SemiSupervisedStep(model, "ada_cm", (0.5, 1.0, 0.1), 0.07, identity, identity)
    unlabeled_rows = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 200], [100, 100, 90]])
    unlabeled = torch.as_tensor(_faces(unlabeled_rows, np.full(4, -1)).images[:, None])
    labeled = torch.as_tensor(_faces(unlabeled_rows[:1], np.zeros(1)).images[:, None])
    logits = _logits_of(unlabeled_rows)
    confidence = logits.softmax(dim=1).max(dim=1).values
    # margins: class a exactly at face 0's confidence (>= keeps it), class b above face 1's.
    margins = torch.tensor([float(confidence[0]), float(confidence[1]) + 0.01, 0.5])
    output = step(labeled, torch.zeros(1, dtype=torch.long), unlabeled, margins)
    assert output.confident.tolist() == [True, False, True, False]
    targets = torch.tensor([0, 1, 2, 0])
    per_face = F.cross_entropy(logits, targets, reduction="none")
    expected_unlabeled = (per_face[0] + per_face[2]) / 4  # divided by the batch, not by 2
    torch.testing.assert_close(output.parts["loss_unlabeled"], expected_unlabeled)
    expected_contrastive = info_nce(logits[[1, 3]], logits[[1, 3]], 0.07)
    torch.testing.assert_close(output.parts["loss_contrastive"], expected_contrastive)
    labeled_loss = F.cross_entropy(logits[:1], torch.zeros(1, dtype=torch.long))
    total = 0.5 * labeled_loss + expected_unlabeled + 0.1 * expected_contrastive
    torch.testing.assert_close(output.total, total)


def test_confirmable_pseudo_labels() -> None:
    probabilities = np.array([[0.85, 0.1, 0.05], [0.2, 0.7, 0.1], [0.05, 0.05, 0.9], [0.9, 0.05, 0.05]])
    indices, classes = confirmable_pseudo_labels(probabilities, np.array([0.85, 0.6, 0.95]))
    assert indices.tolist() == [3, 0, 1] and classes.tolist() == [0, 0, 1]
    with pytest.raises(ValueError):
        confirmable_pseudo_labels(probabilities, np.array([0.5, 0.5]))


def _bar_faces(n: int, seed: int, labeled: bool) -> FaceDataset:
    rng = np.random.default_rng(seed)
    truth = np.arange(n) % 3
    images = rng.integers(0, 60, (n, 16, 16)).astype(np.uint8)
    for index, label in enumerate(truth):
        images[index, 1 + 5 * label : 5 + 5 * label, 4:12] += 170
    names = [f"f{i}" for i in range(n)]
    return FaceDataset(("a", "b", "c"), names, images, truth, np.array(["train"] * n))


def _bar_config(mode: str, **overrides: object) -> SemiSupervisedConfig:
    """A few steps of a tiny CNN on :func:`_bar_faces`."""
    settings = {
        "model": "small_cnn",
        "model_kwargs": {"width": 8},
        "image_size": 16,
        "epochs": 2,
        "steps_per_epoch": 5,
        "labeled_batch_size": 6,
        "unlabeled_batch_size": 8,
        "lr": 5e-3,
    }
    return SemiSupervisedConfig(mode=mode, **(settings | overrides))


@pytest.mark.parametrize(("threshold", "fraction"), [(0.0, 1.0), (1.01, 0.0)])
def test_the_confident_fraction_is_the_share_of_unlabeled_faces_at_the_threshold(
    threshold: float, fraction: float
) -> None:
    # Every softmax maximum is at least 0 and never above 1: all faces pass a threshold of 0, none 1.01.
    config = _bar_config("fixed_threshold", epochs=1, fixed_threshold=threshold)
    result = train_semi_supervised(
        config, _bar_faces(12, 0, True), _bar_faces(32, 1, False), _bar_faces(12, 2, True)
    )
    assert result.history[-1]["confident_fraction"] == fraction


@pytest.mark.parametrize("mode", ["ada_cm", "fixed_threshold", "supervised"])
def test_labeled_loss_falls_in_every_mode(mode: str) -> None:
    config = _bar_config(mode)
    result = train_semi_supervised(
        config, _bar_faces(12, 0, True), _bar_faces(32, 1, False), _bar_faces(12, 2, True)
    )
    losses = [record["loss_labeled"] for record in result.history]
    assert losses[-1] < losses[0]
    assert len(result.history) == 2 and "val_accuracy" in result.history[0]
    if mode == "supervised":
        assert result.margins == [] and "confident_fraction" not in result.history[0]
    else:
        assert len(result.margins) == 2 and "confident_fraction" in result.history[-1]
    assert ("loss_contrastive" in result.history[0]) == (mode == "ada_cm")


@pytest.mark.parametrize("mode", ["ada_cm", "supervised"])
def test_the_returned_model_is_the_ema_teacher(mode: str) -> None:
    def trained(ema_decay: float | None) -> dict[str, torch.Tensor]:
        config = _bar_config(
            mode, model_kwargs={"width": 4}, epochs=1, steps_per_epoch=4, ema_decay=ema_decay
        )
        model = train_semi_supervised(config, _bar_faces(12, 0, True), _bar_faces(16, 1, False)).model
        return model.state_dict()

    student, copied, averaged = trained(None), trained(0.0), trained(0.999)
    for name, value in student.items():  # decay 0: the teacher copies the student each step
        torch.testing.assert_close(copied[name], value)
    assert not torch.allclose(averaged["classifier.weight"], student["classifier.weight"])


def test_config_from_a_supervised_config_keeps_the_model_not_the_optimiser() -> None:
    supervised = TrainConfig(
        model="small_cnn", model_kwargs={"width": 8}, image_size=32, epochs=7, lr=0.1, seed=5
    )
    config = SemiSupervisedConfig.from_train_config(supervised, "fixed_threshold", steps_per_epoch=3)
    assert (config.model, config.model_kwargs, config.image_size, config.epochs, config.seed) == (
        "small_cnn",
        {"width": 8},
        32,
        7,
        5,
    )
    assert config.mode == "fixed_threshold" and config.steps_per_epoch == 3 and config.lr == 5e-4
