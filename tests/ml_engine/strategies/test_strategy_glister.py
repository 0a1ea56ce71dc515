"""GLISTER against an explicit autograd reference on a linear last layer."""

from __future__ import annotations

import numpy as np
import torch

from ml_engine.strategies.base import SelectionInputs
from ml_engine.strategies.glister import select_glister

CLASSES, DIM, POOL = 4, 6, 80


def _layer_and_pool(seed: int) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(CLASSES, DIM, generator=generator, dtype=torch.float64)
    bias = torch.randn(CLASSES, generator=generator, dtype=torch.float64)
    embeddings = torch.randn(POOL, DIM, generator=generator, dtype=torch.float64).abs()
    probabilities = (embeddings @ weight.T + bias).softmax(1)
    return weight, bias, embeddings.numpy().astype(np.float32), probabilities.numpy().astype(np.float32)


def _gradient(
    weight: torch.Tensor, bias: torch.Tensor, embeddings: np.ndarray, labels: np.ndarray
) -> torch.Tensor:
    """Mean cross-entropy gradient w.r.t. ``(W, b)``, flattened."""
    w, b = weight.clone().requires_grad_(True), bias.clone().requires_grad_(True)
    logits = torch.as_tensor(embeddings, dtype=torch.float64) @ w.T + b
    loss = torch.nn.functional.cross_entropy(logits, torch.as_tensor(labels, dtype=torch.int64))
    return torch.cat([g.flatten() for g in torch.autograd.grad(loss, (w, b))])


def _sgd(weight, bias, gradient, lr):
    return weight - lr * gradient[:-CLASSES].view(CLASSES, DIM), bias - lr * gradient[-CLASSES:]


def reference_glister(weight, bias, embeddings, probabilities, labels, validation, count, lr) -> list[int]:
    """distil's greedy (one pick per step) with mean gradients, by autograd on (W, b)."""
    labeled = np.flatnonzero(labels >= 0)
    candidates = np.flatnonzero(labels < 0)
    hypothesised = probabilities.argmax(1)
    own = {i: _gradient(weight, bias, embeddings[[i]], hypothesised[[i]]) for i in candidates}
    weight, bias = _sgd(weight, bias, _gradient(weight, bias, embeddings[labeled], labels[labeled]), lr)
    chosen: list[int] = []
    for _ in range(count):
        target = _gradient(weight, bias, *validation)
        best = max((i for i in candidates if i not in chosen), key=lambda i: (float(own[i] @ target), -i))
        chosen.append(int(best))
        weight, bias = _sgd(weight, bias, own[best], lr)
    return chosen


def _labels() -> np.ndarray:
    labels = np.full(POOL, -1)
    labels[:10] = np.arange(10) % CLASSES
    return labels


def test_greedy_equals_autograd_reference_with_a_validation_set():
    weight, bias, embeddings, probabilities = _layer_and_pool(0)
    val_embeddings = _layer_and_pool(1)[2]
    val_probabilities = (
        (torch.as_tensor(val_embeddings, dtype=torch.float64) @ weight.T + bias).softmax(1).numpy()
    )
    val_labels = (np.arange(POOL) * 7) % CLASSES
    labels = _labels()
    inputs = SelectionInputs(
        POOL,
        probabilities=probabilities,
        embeddings=embeddings,
        labeled=np.arange(10),
        labels=labels,
        validation_embeddings=val_embeddings,
        validation_probabilities=val_probabilities,
        validation_labels=val_labels,
    )
    picks = select_glister(inputs, 12, 0, learning_rate=0.5, rounds=12)
    expected = reference_glister(
        weight, bias, embeddings, probabilities, labels, (val_embeddings, val_labels), 12, 0.5
    )
    assert picks.tolist() == expected


def test_pseudo_labeled_pool_stands_in_for_a_missing_validation_set():
    weight, bias, embeddings, probabilities = _layer_and_pool(2)
    labels = _labels()
    inputs = SelectionInputs(
        POOL, probabilities=probabilities, embeddings=embeddings, labeled=np.arange(10), labels=labels
    )
    rows = np.concatenate([np.arange(10, POOL), np.arange(10)])
    val_labels = np.concatenate([probabilities[10:].argmax(1), labels[:10]])
    expected = reference_glister(
        weight, bias, embeddings, probabilities, labels, (embeddings[rows], val_labels), 8, 0.5
    )
    assert select_glister(inputs, 8, 0, learning_rate=0.5, rounds=8).tolist() == expected


def test_rounds_and_validation_cap_keep_a_valid_batch():
    _, _, embeddings, probabilities = _layer_and_pool(3)
    inputs = SelectionInputs(POOL, probabilities=probabilities, embeddings=embeddings, excluded=np.arange(5))
    picks = select_glister(inputs, 30, 1, rounds=4, max_validation=20)
    assert len(set(picks.tolist())) == 30 and picks.min() >= 5
    assert picks.tolist() == select_glister(inputs, 30, 1, rounds=4, max_validation=20).tolist()
