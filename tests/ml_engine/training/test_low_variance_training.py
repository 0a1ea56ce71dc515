"""Low-variance training: the EMA weights are what ``fit`` returns, the step floor, the validation slice."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ml_engine.data.dataset import FaceDataset
from ml_engine.models import create_model
from ml_engine.training import TrainConfig, fit
from ml_engine.training.loop import seed_everything
from ml_engine.training.semi_supervised import SemiSupervisedConfig, train_semi_supervised
from ml_engine.training.validation_slice import MIN_SLICE_FACES, validation_slice
from ml_engine.training.weight_ema import warmed_up_decay


def _faces(n: int, seed: int = 0) -> FaceDataset:
    """Two separable classes: class 1 has a bright square in the middle."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    images = rng.integers(0, 80, (n, 16, 16)).astype(np.uint8)
    images[labels == 1, 5:11, 5:11] += 150
    return FaceDataset(
        ("plain", "square"), [f"f{i}" for i in range(n)], images, labels, np.array(["train"] * n)
    )


def _config(**overrides) -> TrainConfig:
    settings = {"model": "small_cnn", "model_kwargs": {"width": 8}, "image_size": 16, "batch_size": 8}
    return TrainConfig(**(settings | {"epochs": 1} | overrides))


def test_one_step_publishes_the_ema_of_the_initial_and_the_stepped_weights():
    """After one step the EMA is ``init + w (student - init)``, ``w = 1 - min(d, 2/11)``.

    The initial weights are rebuilt exactly as ``fit`` builds them (same seed, same registry
    call); the student after its step is what ``fit`` without an average returns.
    """
    faces, decay = _faces(8), 0.9
    seed_everything(5)
    initial = create_model("small_cnn", 2, dropout=0.0, width=8).state_dict()
    student = fit(_config(seed=5), faces).model.state_dict()
    published = fit(_config(seed=5, ema_decay=decay), faces).model.state_dict()
    weight = 1.0 - warmed_up_decay(decay, 1)
    assert weight == pytest.approx(9 / 11)
    for key, value in published.items():
        if value.is_floating_point():
            expected = initial[key] + weight * (student[key] - initial[key])
            torch.testing.assert_close(value, expected, rtol=0, atol=1e-6)
        else:  # BatchNorm's step counter is copied, not averaged
            assert torch.equal(value, student[key])
    moved = [key for key in published if published[key].is_floating_point()]
    assert any(not torch.equal(published[key], student[key]) for key in moved)


def test_a_zero_decay_average_is_the_student():
    faces = _faces(24)
    plain = fit(_config(seed=1, epochs=2), faces).model.state_dict()
    averaged = fit(_config(seed=1, epochs=2, ema_decay=0.0), faces).model.state_dict()
    assert all(torch.equal(plain[key], averaged[key]) for key in plain)


def test_few_faces_train_at_least_the_step_floor():
    result = fit(_config(epochs=1, min_steps=7), _faces(16))  # 2 steps per epoch
    assert len(result.history) == 4 and result.metrics["steps"] == 8
    larger = fit(_config(epochs=3, min_steps=4), _faces(16))  # the floor is already met
    assert len(larger.history) == 3 and larger.metrics["steps"] == 6


def test_the_slice_chooses_the_epoch_and_never_trains():
    faces = _faces(400)
    result = fit(_config(epochs=3, lr=0.05, validation_share=0.1, ema_decay=0.999), faces)
    assert result.metrics["train_faces"] == 360 and result.metrics["val_faces"] == 40
    assert all("val_accuracy" in record for record in result.history)
    best = max(record["val_accuracy"] for record in result.history)
    assert result.metrics["val_accuracy"] == best


def test_slice_is_stratified_disjoint_and_reproducible():
    labels = np.array([0] * 300 + [1] * 90 + [2] * 9 + [3] * 1 + [-1] * 20)
    train, held = validation_slice(labels, 0.1, seed=0)
    assert len(np.intersect1d(train, held)) == 0
    assert np.array_equal(np.sort(np.concatenate([train, held])), np.arange(len(labels)))
    counts = np.bincount(labels[held], minlength=4)
    assert counts.sum() == 40  # round(0.1 * 400 labeled faces)
    assert counts[0] == 30 and counts[1] == 9 and counts[3] == 0  # a class's last face trains
    assert counts[2] == 1  # 0.9 is the largest remainder
    assert (labels[train] == -1).sum() == 20  # faces without a hard label always train
    _, held_again = validation_slice(labels, 0.1, seed=0)
    assert np.array_equal(held, held_again)
    assert not np.array_equal(held, validation_slice(labels, 0.1, seed=1)[1])


def test_no_slice_below_the_smallest_useful_size():
    labels = np.arange(10 * MIN_SLICE_FACES - 10) % 3  # 10% is one face short
    train, held = validation_slice(labels, 0.1, seed=0)
    assert len(held) == 0 and len(train) == len(labels)
    with pytest.raises(ValueError, match="validation share"):
        validation_slice(labels, 1.0, seed=0)


def test_semi_supervised_training_takes_the_same_floor_and_slice():
    config = SemiSupervisedConfig(
        mode="fixed_threshold",
        model="small_cnn",
        model_kwargs={"width": 8},
        image_size=16,
        epochs=1,
        steps_per_epoch=3,
        min_steps=7,
        validation_share=0.1,
    )
    result = train_semi_supervised(config, _faces(400), _faces(32, seed=1))
    assert len(result.history) == 3  # ceil(7 / 3) epochs of 3 steps
    assert all("val_accuracy" in record for record in result.history)
    assert result.metrics["val_accuracy"] == max(record["val_accuracy"] for record in result.history)
