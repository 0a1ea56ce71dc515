"""BALD's mutual information on sample sets with known values."""

from __future__ import annotations

import math

import numpy as np

from ml_engine.strategies.bald import mutual_information, select_bald
from ml_engine.strategies.base import SelectionInputs


def test_deterministic_model_has_zero_information():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(7), size=20).astype(np.float32)
    samples = np.repeat(p[None], 10, axis=0)
    np.testing.assert_allclose(mutual_information(samples), 0.0, atol=1e-6)


def test_disagreeing_samples_give_log_two_and_agreeing_uncertain_samples_give_zero():
    disagree = np.array([[[1.0, 0.0]]] * 5 + [[[0.0, 1.0]]] * 5, dtype=np.float32)
    uncertain = np.full((10, 1, 2), 0.5, dtype=np.float32)
    samples = np.concatenate([disagree, uncertain], axis=1)
    scores = mutual_information(samples)
    assert np.all(np.isfinite(scores))
    assert math.isclose(scores[0], math.log(2), rel_tol=1e-6)
    assert abs(scores[1]) < 1e-9


def test_bounds_and_selection_order():
    rng = np.random.default_rng(1)
    samples = rng.dirichlet(np.ones(3) * 0.3, size=(10, 40)).astype(np.float32)
    samples[0, :5] = [1.0, 0.0, 0.0]
    scores = mutual_information(samples)
    mean = samples.mean(axis=0).astype(np.float64)
    total = -(mean * np.log(np.where(mean > 0, mean, 1))).sum(axis=1)
    assert np.all(scores >= 0) and np.all(scores <= total + 1e-9) and np.all(total <= math.log(3) + 1e-9)
    picks = select_bald(
        SelectionInputs(40, mc_probabilities=samples, labeled=np.array([int(np.argmax(scores))])), 3, 0
    )
    expected = [i for i in np.argsort(-scores, kind="stable") if i != np.argmax(scores)][:3]
    assert picks.tolist() == expected
