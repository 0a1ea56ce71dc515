"""Properties every registered strategy must have: valid, unique, deterministic picks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ml_engine.strategies import STRATEGIES, SelectionInputs, get_strategy, select_batch

POOL, CLASSES, DIM = 120, 7, 8


def _inputs(labeled: np.ndarray, excluded: np.ndarray) -> SelectionInputs:
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(POOL, DIM)).astype(np.float32)
    embeddings[60:70] = embeddings[59]  # exact duplicates
    torch.manual_seed(0)
    head = nn.Linear(DIM, CLASSES)
    with torch.no_grad():
        probabilities = head(torch.as_tensor(embeddings)).softmax(1).numpy()
    probabilities[:3] = np.eye(CLASSES)[:3]  # exact zeros and ones
    labels = np.full(POOL, -1)
    labels[labeled] = rng.integers(CLASSES, size=len(labeled))
    return SelectionInputs(
        POOL,
        probabilities=probabilities,
        embeddings=embeddings,
        mc_probabilities=rng.dirichlet(np.ones(CLASSES), size=(10, POOL)).astype(np.float32),
        labeled=labeled,
        excluded=excluded,
        labels=labels,
        model=head,
        images=torch.as_tensor(embeddings),
    )


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_picks_are_unique_allowed_and_deterministic(name):
    labeled, excluded = np.arange(0, 120, 7), np.array([1, 2, 5, 61])
    inputs = _inputs(labeled, excluded)
    picks = select_batch(name, inputs, 25, seed=3)
    assert picks.dtype == np.int64 and len(picks) == 25 and len(set(picks.tolist())) == 25
    assert not set(picks.tolist()) & (set(labeled.tolist()) | set(excluded.tolist()))
    assert picks.min() >= 0 and picks.max() < POOL
    assert select_batch(name, inputs, 25, seed=3).tolist() == picks.tolist()


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_small_pool_returns_every_candidate(name):
    inputs = _inputs(np.arange(0, 110), np.array([111, 115]))
    picks = select_batch(name, inputs, 50, seed=0)
    assert sorted(picks.tolist()) == [110, 112, 113, 114, 116, 117, 118, 119]
    assert select_batch(name, inputs, 0, seed=0).tolist() == []


def test_random_depends_on_the_seed_and_unknown_names_fail():
    inputs = _inputs(np.arange(5), np.zeros(0, dtype=np.int64))
    assert select_batch("random", inputs, 10, 0).tolist() != select_batch("random", inputs, 10, 1).tolist()
    with pytest.raises(ValueError, match="unknown strategy"):
        get_strategy("nope")
    with pytest.raises(ValueError, match="embeddings"):
        select_batch("coreset", SelectionInputs(4), 2, 0)
