"""Class-balanced quotas and the wrapper around any strategy, on toy pools with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from ml_engine.strategies import STRATEGIES, SelectionInputs, get_strategy, select_batch, strategy_name
from ml_engine.strategies.class_balance import class_quotas, interleave


def test_quotas_follow_the_square_root_of_the_pool_share():
    # sqrt(100, 25, 4, 0) = 10, 5, 2, 0 -> targets 10 * (10, 5, 2) / 17 = 5.88, 2.94, 1.18.
    assert class_quotas(np.array([100, 25, 4, 0]), 10).tolist() == [6, 3, 1, 0]
    # sqrt(400, 100, 1) = 20, 10, 1 -> targets 12.90, 6.45, 0.65 -> 13, 6, 1. Proportional to
    # the share itself it would be 15.97, 3.99, 0.04: the tail would get nothing.
    assert class_quotas(np.array([400, 100, 1]), 20).tolist() == [13, 6, 1]


def test_the_minimum_per_class_is_met_before_the_shares():
    # A floor of 3 but a single candidate: the floor is capped at what the class holds.
    assert class_quotas(np.array([400, 1, 0]), 20, minimum_per_class=3).tolist() == [19, 1, 0]
    # Shares alone: targets 18.18 / 1.82 -> 18 / 2; the floor of 3 lifts the tail to 3.
    assert class_quotas(np.array([400, 4, 0]), 20, minimum_per_class=3).tolist() == [17, 3, 0]
    assert class_quotas(np.array([400, 4, 0]), 20, minimum_per_class=1).tolist() == [18, 2, 0]
    # A batch smaller than the floors: the heavier classes get theirs first.
    assert class_quotas(np.array([50, 30, 10]), 2, minimum_per_class=1).tolist() == [1, 1, 0]


def test_a_full_class_passes_its_share_on_and_the_quotas_sum_to_what_exists():
    # Targets 50 * (1.41, 10) / 11.41 = 6.19, 43.81, but class 0 holds only 2 candidates.
    assert class_quotas(np.array([2, 100]), 50).tolist() == [2, 48]
    # Targets 1.24, 8.76 -> 1, 9.
    assert class_quotas(np.array([2, 100]), 10).tolist() == [1, 9]
    assert class_quotas(np.array([2, 3]), 10).tolist() == [2, 3]
    assert class_quotas(np.array([0, 0]), 5).tolist() == [0, 0]
    assert class_quotas(np.array([5, 5]), 0).tolist() == [0, 0]


def test_interleave_keeps_each_order_and_spreads_the_classes():
    assert interleave([np.array([7, 3, 9, 1]), np.array([4, 8])]).tolist() == [7, 4, 3, 9, 8, 1]


def _toy_pool(size: int = 60, classes: int = 3, seed: int = 0) -> SelectionInputs:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(size, classes)) + np.array([2.0, 0.0, -1.0])[:classes]
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    embeddings = rng.normal(size=(size, 4)).astype(np.float32)
    return SelectionInputs(
        size, probabilities=probabilities.astype(np.float32), embeddings=embeddings, labeled=np.array([0, 1])
    )


def test_balanced_least_confidence_takes_each_class_in_least_confidence_order():
    inputs = _toy_pool()
    predicted = inputs.probabilities.argmax(axis=1)
    counts = np.bincount(predicted[inputs.candidates()], minlength=3)
    picks = select_batch("least_confidence+balanced", inputs, 12, seed=0)
    assert len(picks) == 12 and len(set(picks.tolist())) == 12
    assert np.bincount(predicted[picks], minlength=3).tolist() == class_quotas(counts, 12).tolist()
    ranking = select_batch("least_confidence", inputs, len(inputs.candidates()), seed=0)
    for label in range(3):
        mine = picks[predicted[picks] == label]
        theirs = ranking[predicted[ranking] == label][: len(mine)]
        assert mine.tolist() == theirs.tolist()
    assert not np.isin(picks, [0, 1]).any()


def test_fewer_candidates_than_the_batch_returns_every_candidate():
    inputs = SelectionInputs(
        5, probabilities=np.eye(3, dtype=np.float32)[[0, 0, 1, 2, 2]], labeled=np.array([3])
    )
    picks = select_batch("margin+balanced", inputs, 10, seed=0)
    assert sorted(picks.tolist()) == [0, 1, 2, 4]


@pytest.mark.parametrize("name", ["random", "badge", "coreset", "entropy"])
def test_balanced_selection_is_deterministic_by_seed(name):
    inputs = _toy_pool()
    first = select_batch(strategy_name(name, True), inputs, 9, seed=4)
    assert first.tolist() == select_batch(strategy_name(name, True), inputs, 9, seed=4).tolist()
    if name in ("random", "badge"):
        assert first.tolist() != select_batch(strategy_name(name, True), inputs, 9, seed=5).tolist()


def test_every_strategy_has_a_balanced_variant_that_needs_probabilities():
    for name, strategy in STRATEGIES.items():
        balanced = get_strategy(f"{name}+balanced")
        assert balanced.title == f"{strategy.title} (class-balanced)"
        assert "probabilities" in balanced.needs and set(strategy.needs) <= set(balanced.needs)
    with pytest.raises(ValueError, match="unknown strategy 'nope\\+balanced'"):
        get_strategy("nope+balanced")
    assert strategy_name("badge", False) == "badge"
