"""The Dawid-Skene crowd model: per-annotator confusion matrices estimated by EM.

Dawid & Skene (1979, Applied Statistics 28(1), 20-28) model each annotator ``a`` by a
confusion matrix ``pi[a, c, l] = P(a answers l | true class c)`` and the classes by a prior
``rho[c]``. EM alternates

* E-step (their Eq. 2.5): ``T[i, c] ∝ rho[c] * prod_{votes (a, l) on i} pi[a, c, l]``,
* M-step (Eqs. 2.3-2.4): ``pi[a, c, l] ∝ sum_{votes (a, l) on i} T[i, c]``, ``rho = mean_i T[i]``,

starting from majority-vote posteriors, exactly as crowd-kit's ``DawidSkene`` does (its
numbers are checked against ours in the tests). Annotators who systematically confuse two
expressions, or answer at random, are down-weighted instead of counted like everyone else;
``reliability`` (expected accuracy, ``sum_c rho[c] pi[a, c, c]``) is what the dashboard
shows per annotator.

When annotators are not identified (FERPlus ships only per-face counts), pass every vote as
one pooled annotator (:func:`triples_from_counts`): the model then learns one confusion
matrix of "the crowd", which is identifiable, unlike arbitrary per-slot annotators.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

_EPS = 1e-10


@dataclass(frozen=True)
class DawidSkeneResult:
    """What EM estimated.

    Attributes:
        probabilities: ``(N, C)`` posterior over the true class of each item.
        labels: ``(N,)`` arg-max of ``probabilities`` (-1 for items without any vote).
        priors: ``(C,)`` class prior ``rho``.
        confusions: ``(A, C, C)``, ``confusions[a, c, l] = P(annotator a answers l | true c)``;
            rows sum to 1.
        reliability: ``(A,)`` expected accuracy of each annotator, ``sum_c rho_c pi[a, c, c]``.
        iterations: EM iterations run.
        objective: the evidence lower bound per vote after each iteration (non-decreasing).
    """

    probabilities: np.ndarray
    labels: np.ndarray
    priors: np.ndarray
    confusions: np.ndarray
    reliability: np.ndarray
    iterations: int
    objective: list[float] = field(default_factory=list)


def triples_from_counts(votes: np.ndarray, annotator: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expand an ``(N, C)`` count table into ``(items, annotators, labels)`` vote triples.

    Every vote is attributed to the single pooled ``annotator``.
    """
    counts = np.asarray(votes, dtype=np.int64)
    items, labels = np.nonzero(counts)
    repeats = counts[items, labels]
    items, labels = np.repeat(items, repeats), np.repeat(labels, repeats)
    return items, np.full_like(items, annotator), labels


def _check(items: np.ndarray, annotators: np.ndarray, labels: np.ndarray, num_classes: int) -> None:
    if not len(items) == len(annotators) == len(labels):
        raise ValueError("items, annotators and labels must have the same length")
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes})")
    if len(items) and (items.min() < 0 or annotators.min() < 0):
        raise ValueError("item and annotator indices must be non-negative")


def _majority_posteriors(
    items: np.ndarray, labels: np.ndarray, num_items: int, num_classes: int
) -> np.ndarray:
    """Normalised vote counts per item: crowd-kit's (and Dawid-Skene's) initial ``T``."""
    counts = np.zeros((num_items, num_classes))
    np.add.at(counts, (items, labels), 1.0)
    total = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)


def _m_step(posteriors: np.ndarray, votes: tuple[np.ndarray, ...], num_annotators: int) -> np.ndarray:
    """``pi[a, c, l] ∝ sum over a's votes l of T[i, c]`` (Eq. 2.3), clipped like crowd-kit."""
    items, annotators, labels = votes
    num_classes = posteriors.shape[1]
    cell = annotators * num_classes + labels
    size = num_annotators * num_classes
    counts = np.stack(
        [np.bincount(cell, weights=posteriors[items, c], minlength=size) for c in range(num_classes)]
    )
    counts = np.maximum(counts.reshape(num_classes, num_annotators, num_classes).transpose(1, 0, 2), _EPS)
    return counts / counts.sum(axis=2, keepdims=True)


def _log_joint(
    priors: np.ndarray, confusions: np.ndarray, votes: tuple[np.ndarray, ...], num_items: int
) -> np.ndarray:
    """``log rho[c] + sum_votes log pi[a, c, l]`` per item and class (the E-step's numerator)."""
    items, annotators, labels = votes
    log_confusions = np.log(confusions)
    columns = [
        np.bincount(items, weights=log_confusions[annotators, c, labels], minlength=num_items)
        for c in range(confusions.shape[1])
    ]
    return np.stack(columns, axis=1) + np.log(np.maximum(priors, _EPS))


def _e_step(log_joint: np.ndarray) -> np.ndarray:
    shifted = np.exp(log_joint - log_joint.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _evidence_lower_bound(posteriors: np.ndarray, log_joint: np.ndarray) -> float:
    """``E_T[log p(votes, z)] + H(T)`` (equals the log-likelihood right after an E-step)."""
    entropy = -(posteriors * np.log(np.maximum(posteriors, _EPS))).sum()
    return float((posteriors * log_joint).sum() + entropy)


def dawid_skene(
    items: np.ndarray,
    annotators: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    *,
    num_items: int | None = None,
    num_annotators: int | None = None,
    max_iterations: int = 100,
    tolerance: float = 1e-5,
) -> DawidSkeneResult:
    """Fit the Dawid-Skene model to vote triples by EM.

    Args:
        items: ``(M,)`` item index of each vote, in ``[0, num_items)``.
        annotators: ``(M,)`` annotator index of each vote, in ``[0, num_annotators)``.
        labels: ``(M,)`` class each vote chose, in ``[0, num_classes)``.
        num_classes: ``C``.
        num_items: ``N`` (default: ``items.max() + 1``); items without votes get the prior.
        num_annotators: ``A`` (default: ``annotators.max() + 1``).
        max_iterations: EM iterations at most (crowd-kit's ``n_iter``).
        tolerance: stop when the evidence lower bound per vote gains less than this.
    """
    votes = tuple(np.asarray(v, dtype=np.int64) for v in (items, annotators, labels))
    _check(votes[0], votes[1], votes[2], num_classes)
    num_items = int(votes[0].max(initial=-1) + 1) if num_items is None else num_items
    num_annotators = int(votes[1].max(initial=-1) + 1) if num_annotators is None else num_annotators
    has_votes = np.bincount(votes[0], minlength=num_items) > 0
    posteriors = _majority_posteriors(votes[0], votes[2], num_items, num_classes)
    priors = (
        posteriors[has_votes].mean(axis=0) if has_votes.any() else np.full(num_classes, 1.0 / num_classes)
    )
    confusions = _m_step(posteriors, votes, num_annotators)
    objective: list[float] = []
    iterations = 0
    for iterations in range(1, max_iterations + 1):  # noqa: B007 - the count is reported
        posteriors = _e_step(_log_joint(priors, confusions, votes, num_items))
        priors = posteriors[has_votes].mean(axis=0) if has_votes.any() else priors
        confusions = _m_step(posteriors, votes, num_annotators)
        log_joint = _log_joint(priors, confusions, votes, num_items)
        objective.append(
            _evidence_lower_bound(posteriors[has_votes], log_joint[has_votes]) / max(len(votes[0]), 1)
        )
        if len(objective) > 1 and objective[-1] - objective[-2] < tolerance:
            break
    posteriors[~has_votes] = priors
    reliability = np.einsum("c,acc->a", priors, confusions)
    return DawidSkeneResult(
        probabilities=posteriors,
        labels=np.where(has_votes, posteriors.argmax(axis=1), -1),
        priors=priors,
        confusions=confusions,
        reliability=reliability,
        iterations=iterations,
        objective=objective,
    )
