"""Straightforward reference implementations of the query strategies, for ``selection_latency.py``.

Each is what one would write first (and what distil/ActiveFER do; docs/reference-implementations.md
§2): ``p * log p`` entropy, full sorts, the materialised ``N x C*D`` gradient matrix for BADGE
and GLISTER, an eager numpy k-center loop with a dense ``N x N_l`` initial distance matrix,
one-image-at-a-time DeepFool. Where the fast version is exact, the reference consumes the
same random numbers, so the picks must agree. Numpy's warnings are silenced: ``p * log p``
at ``p = 0`` is the NaN bug the fast versions avoid.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def top(scores: np.ndarray, candidates: np.ndarray, count: int) -> np.ndarray:
    return candidates[np.argsort(-scores, kind="stable")[:count]]


def entropy(probabilities: np.ndarray, candidates: np.ndarray, count: int) -> np.ndarray:
    p = probabilities[candidates]
    return top(-(p * np.log(p)).sum(axis=1), candidates, count)


def margin(probabilities: np.ndarray, candidates: np.ndarray, count: int) -> np.ndarray:
    p = np.sort(probabilities[candidates], axis=1)
    return top(p[:, -2] - p[:, -1], candidates, count)


def least_confidence(probabilities: np.ndarray, candidates: np.ndarray, count: int) -> np.ndarray:
    return top(-probabilities[candidates].max(axis=1), candidates, count)


def bald(samples: np.ndarray, candidates: np.ndarray, count: int) -> np.ndarray:
    p = samples[:, candidates]
    mean = p.mean(axis=0)
    information = -(mean * np.log(mean)).sum(axis=1) + (p * np.log(p)).sum(axis=2).mean(axis=0)
    return top(information, candidates, count)


def gradient_matrix(probabilities: np.ndarray, embeddings: np.ndarray, bias: bool = False) -> np.ndarray:
    """distil's ``get_grad_embedding``: ``(p - onehot(argmax)) (x) e`` laid out class-major."""
    factors = probabilities.copy()
    factors[np.arange(len(factors)), factors.argmax(axis=1)] -= 1.0
    linear = (factors[:, :, None] * embeddings[:, None, :]).reshape(len(factors), -1)
    return np.concatenate([factors, linear], axis=1) if bias else linear


def badge(probabilities: np.ndarray, embeddings: np.ndarray, candidates: np.ndarray, count: int, seed: int):
    """k-means++ seeding on the materialised gradients, eager D^2 updates, exponential-race draws."""
    gradients = gradient_matrix(probabilities[candidates], embeddings[candidates])
    chosen = [int(np.argmax(np.einsum("ij,ij->i", gradients, gradients)))]
    nearest = ((gradients - gradients[chosen[0]]) ** 2).sum(axis=1)
    rng = np.random.default_rng(seed)
    while len(chosen) < count:
        score = nearest / rng.standard_exponential(len(gradients))
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
        nearest = np.minimum(nearest, ((gradients - gradients[chosen[-1]]) ** 2).sum(axis=1))
    return candidates[chosen]


def coreset(embeddings: np.ndarray, labeled: np.ndarray, candidates: np.ndarray, count: int) -> np.ndarray:
    """distil's k-center greedy: dense ``cdist`` to the labeled set, then an eager update per pick."""
    points = torch.as_tensor(embeddings[candidates])
    nearest = torch.cdist(points, torch.as_tensor(embeddings[labeled])).min(dim=1).values.numpy()
    chosen: list[int] = []
    for _ in range(count):
        score = nearest.copy()
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
        nearest = np.minimum(
            nearest, np.sqrt(((embeddings[candidates] - embeddings[candidates[chosen[-1]]]) ** 2).sum(1))
        )
    return candidates[chosen]


def glister(probabilities, embeddings, candidates, count, learning_rate=0.01):
    """distil's GLISTER (``typeOf='none'``) with mean gradients: materialised ``N x C(D+1)`` gradients,
    pseudo-labeled pool as validation, one pick per greedy step."""
    gradients = gradient_matrix(probabilities[candidates], embeddings[candidates], bias=True)
    logits = np.log(probabilities[candidates]).astype(np.float64)
    targets = np.eye(probabilities.shape[1], dtype=np.float32)[probabilities[candidates].argmax(axis=1)]
    val_embeddings = embeddings[candidates]
    chosen: list[int] = []
    classes = probabilities.shape[1]
    for _ in range(count):
        soft = np.exp(logits - logits.max(axis=1, keepdims=True))
        soft /= soft.sum(axis=1, keepdims=True)
        validation = gradient_matrix_from((soft - targets).astype(np.float32), val_embeddings).mean(axis=0)
        gains = gradients @ validation
        gains[chosen] = -np.inf
        best = int(np.argmax(gains))
        chosen.append(best)
        step = gradients[best]
        weight = step[classes:].reshape(classes, -1)
        logits -= learning_rate * (val_embeddings @ weight.T + step[:classes])
    return candidates[chosen]


def gradient_matrix_from(residuals: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    linear = (residuals[:, :, None] * embeddings[:, None, :]).reshape(len(residuals), -1)
    return np.concatenate([residuals, linear], axis=1)


def deepfool_one_at_a_time(
    model: nn.Module, images: torch.Tensor, max_iterations=50, overshoot=0.02
) -> np.ndarray:
    """distil's loop: one image at a time, ``C`` backward passes per iteration (direction bug fixed)."""
    norms = []
    model.eval()
    for image in images:
        x0 = image[None]
        original = int(model(x0).argmax())
        total = torch.zeros_like(x0)
        for _ in range(max_iterations):
            x = (x0 + (1 + overshoot) * total).requires_grad_(True)
            logits = model(x)[0]
            if int(logits.argmax()) != original:
                break
            grads = [torch.autograd.grad(logits[k], x, retain_graph=True)[0] for k in range(len(logits))]
            best, best_w = np.inf, None
            for k in range(len(logits)):
                if k == original:
                    continue
                w = grads[k] - grads[original]
                distance = float((logits[k] - logits[original]).abs() / w.norm())
                if distance < best:
                    best, best_w = distance, w
            total = total + (best + 1e-4) * best_w / best_w.norm()
        norms.append(float(((1 + overshoot) * total).norm()))
    return np.array(norms)
