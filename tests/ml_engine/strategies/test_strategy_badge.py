"""BADGE: factorised distances and selection against a full-matrix reference."""

from __future__ import annotations

import numpy as np
import torch

from ml_engine.strategies.badge import gradient_distances, loss_gradient_factors, select_badge
from ml_engine.strategies.base import SelectionInputs


def _pool(n: int, classes: int = 5, dim: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, classes)) * 2
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return probabilities.astype(np.float32), np.abs(rng.normal(size=(n, dim))).astype(np.float32)


def gradient_embeddings(probabilities: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """The explicit N x (C * D) matrix distil builds (class-major outer products)."""
    factors = loss_gradient_factors(probabilities).astype(np.float64)
    return (factors[:, :, None] * embeddings.astype(np.float64)[:, None, :]).reshape(len(factors), -1)


def reference_badge(probabilities: np.ndarray, embeddings: np.ndarray, count: int, seed: int) -> list[int]:
    """Full-matrix k-means++ seeding with the same exponential-race draws."""
    gradients = gradient_embeddings(probabilities, embeddings)
    first = int(np.argmax((gradients**2).sum(axis=1)))
    nearest = ((gradients - gradients[first]) ** 2).sum(axis=1)
    chosen, rng = [first], np.random.default_rng(seed)
    while len(chosen) < count:
        score = nearest / rng.standard_exponential(len(gradients))
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
        nearest = np.minimum(nearest, ((gradients - gradients[chosen[-1]]) ** 2).sum(axis=1))
    return chosen


def test_factors_are_the_autograd_gradient_of_cross_entropy():
    probabilities, _ = _pool(6)
    logits = torch.tensor(np.log(probabilities), dtype=torch.float64, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(logits, logits.argmax(1), reduction="sum")
    (gradient,) = torch.autograd.grad(loss, logits)
    np.testing.assert_allclose(loss_gradient_factors(probabilities), gradient.numpy(), atol=1e-6)


def test_factorised_distances_equal_explicit_ones():
    probabilities, embeddings = _pool(30)
    explicit = gradient_embeddings(probabilities, embeddings)
    expected = ((explicit[:, None] - explicit[None]) ** 2).sum(-1)
    distances = gradient_distances(
        torch.as_tensor(loss_gradient_factors(probabilities)), torch.as_tensor(embeddings)
    )
    got = distances(np.arange(30), np.arange(30))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * expected.max())


def test_selection_equals_full_matrix_reference_with_the_same_seed():
    probabilities, embeddings = _pool(300, seed=3)
    for seed in (0, 7):
        picks = select_badge(
            SelectionInputs(300, probabilities=probabilities, embeddings=embeddings), 40, seed
        )
        assert picks.tolist() == reference_badge(probabilities, embeddings, 40, seed)


def test_first_pick_is_the_largest_gradient_and_labeled_are_skipped():
    probabilities, embeddings = _pool(50, seed=4)
    norms = (gradient_embeddings(probabilities, embeddings) ** 2).sum(axis=1)
    top = int(np.argmax(norms))
    inputs = SelectionInputs(50, probabilities=probabilities, embeddings=embeddings)
    assert select_badge(inputs, 1, 0).tolist() == [top]
    inputs = SelectionInputs(50, probabilities=probabilities, embeddings=embeddings, labeled=np.array([top]))
    picks = select_badge(inputs, 49, 0)
    assert sorted(picks.tolist()) == [i for i in range(50) if i != top]


def test_draws_are_proportional_to_squared_distance():
    # Centre 0 is the largest gradient; candidates 1..3 sit at squared gradient distances 1, 4, 9... from it.
    probabilities = np.tile([[0.5, 0.5]], (4, 1)).astype(np.float32)
    embeddings = np.array(
        [[10.0], [8.0], [6.0], [4.0]], dtype=np.float32
    )  # |a|^2 = 0.5: D^2 = 0.5 * (10 - e)^2
    inputs = SelectionInputs(4, probabilities=probabilities, embeddings=embeddings)
    counts = np.bincount([select_badge(inputs, 2, seed)[1] for seed in range(1500)], minlength=4)
    expected = np.array([0, 4, 16, 36]) / 56 * 1500
    assert counts[0] == 0
    assert np.all(np.abs(counts[1:] - expected[1:]) < 4 * np.sqrt(expected[1:]))
