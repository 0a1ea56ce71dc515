"""Entropy, Margin and Least Confidence on toy probabilities with known answers."""

from __future__ import annotations

import math

import numpy as np

from ml_engine.strategies.base import SelectionInputs
from ml_engine.strategies.entropy import entropy_scores, select_entropy
from ml_engine.strategies.least_confidence import select_least_confidence
from ml_engine.strategies.margin import margins, select_margin

# docs/reference-implementations.md §2.2: LC and Entropy pick row 1, Margin picks row 2.
TOY = np.array([[1.0, 0.0, 0.0], [0.34, 0.33, 0.33], [0.5, 0.5, 0.0], [0.9, 0.05, 0.05]], dtype=np.float32)


def test_least_confidence_and_margin_disagree_on_the_crafted_pair():
    inputs = SelectionInputs(4, probabilities=TOY)
    assert select_least_confidence(inputs, 1, 0).tolist() == [1]
    assert select_margin(inputs, 1, 0).tolist() == [2]
    assert select_entropy(inputs, 1, 0).tolist() == [1]
    assert select_least_confidence(inputs, 4, 0).tolist() == [1, 2, 3, 0]
    assert select_margin(inputs, 4, 0).tolist() == [2, 1, 3, 0]


def test_entropy_is_finite_and_exact_at_zero_probabilities():
    scores = entropy_scores(TOY)
    assert np.all(np.isfinite(scores))
    assert scores[0] == 0.0
    assert math.isclose(scores[2], math.log(2), rel_tol=1e-6)
    p = TOY[1].astype(np.float64)
    assert math.isclose(scores[1], -(p * np.log(p)).sum(), rel_tol=1e-6)


def test_margin_is_top_two_gap():
    np.testing.assert_allclose(margins(TOY), [1.0, 0.01, 0.0, 0.85], atol=1e-6)


def test_ties_go_to_the_lower_index_and_labeled_are_skipped():
    probabilities = np.tile([[0.6, 0.4]], (5, 1)).astype(np.float32)
    inputs = SelectionInputs(5, probabilities=probabilities, labeled=np.array([0]), excluded=np.array([2]))
    for select in (select_entropy, select_margin, select_least_confidence):
        assert select(inputs, 2, 0).tolist() == [1, 3]


def test_binary_rankings_coincide():
    p1 = np.random.default_rng(0).random(50)
    probabilities = np.stack([p1, 1 - p1], axis=1).astype(np.float32)
    inputs = SelectionInputs(50, probabilities=probabilities)
    expected = select_entropy(inputs, 50, 0).tolist()
    assert select_margin(inputs, 50, 0).tolist() == expected
    assert select_least_confidence(inputs, 50, 0).tolist() == expected
