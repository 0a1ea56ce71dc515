"""Quick quality signals for embeddings on a labelled split: weighted kNN and a linear probe.

Both are the standard SSL evaluations (kNN: Wu et al., "Unsupervised feature learning via
non-parametric instance discrimination", CVPR 2018, Eq. 7-8, lightly's ``knn_predict``;
linear probe: a logistic regression on frozen features). They need no fine-tuning and run in
seconds, so a pre-training run can be judged against a randomly initialised backbone.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def knn_accuracy(
    train_emb: np.ndarray,
    train_labels: np.ndarray,
    test_emb: np.ndarray,
    test_labels: np.ndarray,
    k: int = 20,
    *,
    temperature: float = 0.07,
    chunk: int = 1024,
) -> float:
    """Accuracy of the weighted kNN classifier (cosine, k=20, temperature 0.07).

    Each test face's ``k`` most cosine-similar training faces vote with weight
    ``exp(cos / temperature)``: lightly's ``knn_predict``, run on ``chunk`` test faces at a
    time so the similarity matrix stays small.

    Raises:
        ValueError: when a training face has no label (``< 0``) or there are none.
    """
    # Imported here: lightly.utils.benchmarking loads pytorch_lightning, seconds the CLI's
    # other commands need not wait for.
    from lightly.utils.benchmarking import knn_predict

    labels = torch.as_tensor(np.asarray(train_labels), dtype=torch.int64)
    if len(labels) == 0 or int(labels.min()) < 0:
        raise ValueError("kNN needs labelled reference faces (labels >= 0)")
    num_classes = int(max(np.max(train_labels), np.max(test_labels))) + 1
    bank = _unit_rows(train_emb).T
    predicted = [
        knn_predict(
            _unit_rows(test_emb[start : start + chunk]),
            bank,
            labels,
            num_classes,
            min(k, len(labels)),
            temperature,
        )
        for start in range(0, len(test_emb), chunk)
    ]
    return float(np.mean(torch.cat(predicted)[:, 0].numpy() == np.asarray(test_labels)))


def _unit_rows(vectors: np.ndarray) -> torch.Tensor:
    """``vectors`` as float32 rows of unit length (cosine similarity is then a dot product)."""
    return F.normalize(torch.as_tensor(np.asarray(vectors), dtype=torch.float32), dim=1)


def linear_probe_accuracy(
    train_emb: np.ndarray,
    train_labels: np.ndarray,
    test_emb: np.ndarray,
    test_labels: np.ndarray,
    *,
    steps: int = 300,
    weight_decay: float = 1e-4,
) -> float:
    """Test accuracy of a multinomial logistic regression on standardised frozen features.

    Full-batch L-BFGS with a strong-Wolfe line search, at most ``steps`` iterations, and an
    L2 penalty ``weight_decay * ||W||^2``; features are standardised with training statistics.
    """
    train = torch.as_tensor(np.asarray(train_emb), dtype=torch.float64)
    test = torch.as_tensor(np.asarray(test_emb), dtype=torch.float64)
    mean, std = train.mean(0), train.std(0).clamp(min=1e-6)
    train, test = (train - mean) / std, (test - mean) / std
    labels = torch.as_tensor(np.asarray(train_labels), dtype=torch.int64)
    classes = int(max(np.max(train_labels), np.max(test_labels))) + 1
    weight = torch.zeros(train.shape[1], classes, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = F.cross_entropy(train @ weight + bias, labels) + weight_decay * weight.pow(2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    with torch.no_grad():
        predicted = (test @ weight + bias).argmax(dim=1).numpy()
    return float(np.mean(predicted == np.asarray(test_labels)))
