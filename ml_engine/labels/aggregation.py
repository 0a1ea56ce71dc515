"""Aggregating crowd votes: majority labels, vote distributions, candidate sets, agreement.

Every function takes a vote table ``votes`` of shape ``(N, C)``: how many annotators chose
each of the ``C`` classes for each of the ``N`` faces (FERPlus' ``label.csv`` counts, or the
app's votes counted per face). They are the label schemes of the FERPlus paper (Barsoum et
al., ICMI 2016; ``microsoft/FERPlus`` ``src/ferplus.py::_process_data``) and the candidate
sets of partial-label learning (Wang, Sebe & Lepri, seed 004 §3.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml_engine.data.dataset import UNLABELED


def _counts(votes: np.ndarray) -> np.ndarray:
    counts = np.asarray(votes)
    if counts.ndim != 2:
        raise ValueError(f"votes must be an (N, C) table, got shape {counts.shape}")
    if counts.size and counts.min() < 0:
        raise ValueError("vote counts must be non-negative")
    return counts.astype(np.int64)


def majority_labels(
    votes: np.ndarray, *, min_count: int = 2, other_votes: np.ndarray | None = None
) -> np.ndarray:
    """FERPlus majority labels: the winner if it holds more than half of the kept votes.

    The FERPlus rule (``_process_data``, "majority" mode): first drop every class with fewer
    than ``min_count`` votes (2 drops single votes, the paper's outlier removal), then keep
    the arg-max class only if its count is strictly greater than half of the remaining
    votes; otherwise the face gets no label. Ties therefore never produce a label.

    Args:
        votes: ``(N, C)`` vote counts per class.
        min_count: classes with fewer votes are dropped first. Use 1 when each face has a
            single vote (k = 1 projects), where dropping single votes would drop everything.
        other_votes: optional ``(N, M)`` votes for answers that are not classes (FERPlus'
            "unknown" and "not a face"). They count in the denominator after the same
            dropping, and a face whose winner is one of them gets no label.

    Returns:
        ``(N,)`` int64 labels in ``[0, C)``, ``-1`` (``UNLABELED``) where there is no majority.
    """
    counts = _counts(votes)
    num_classes = counts.shape[1]
    if other_votes is not None:
        counts = np.concatenate([counts, _counts(other_votes)], axis=1)
    counts = np.where(counts >= min_count, counts, 0)
    total = counts.sum(axis=1)
    winner = counts.argmax(axis=1) if counts.shape[1] else np.zeros(len(counts), dtype=np.int64)
    top = counts.max(axis=1, initial=0)
    keep = (2 * top > total) & (winner < num_classes) & (total > 0)
    return np.where(keep, winner, UNLABELED).astype(np.int64)


def vote_distribution(votes: np.ndarray, *, min_count: int = 1) -> np.ndarray:
    """Votes normalised to a probability distribution per face (FERPlus' soft targets).

    Args:
        votes: ``(N, C)`` vote counts.
        min_count: classes with fewer votes are dropped before normalising (2 removes
            single-vote outliers as FERPlus does).

    Returns:
        ``(N, C)`` float64 rows that sum to 1; all-zero rows (no kept vote) stay all zero so
        the caller can see and skip them.
    """
    counts = _counts(votes)
    counts = np.where(counts >= min_count, counts, 0).astype(np.float64)
    total = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)


def candidate_sets(votes: np.ndarray, k: int = 1) -> np.ndarray:
    """Partial-label candidate sets: the classes with at least ``k`` votes (seed 004 §3.1).

    A face whose votes are all below ``k`` falls back to its most-voted class(es), so no face
    with votes loses its label; faces without any vote get an empty set.

    Returns:
        ``(N, C)`` bool mask, True for candidate classes.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    counts = _counts(votes)
    candidates = counts >= k
    top = counts.max(axis=1, keepdims=True, initial=0)
    fallback = ~candidates.any(axis=1, keepdims=True) & (top > 0)
    return candidates | (fallback & (counts == top))


def item_agreement(votes: np.ndarray) -> np.ndarray:
    """Per-face agreement ``P_i``: the fraction of annotator pairs that chose the same class.

    ``P_i = sum_j n_ij (n_ij - 1) / (n_i (n_i - 1))`` (Fleiss 1971, Eq. 2); NaN for faces
    with fewer than two votes, where agreement is undefined.
    """
    counts = _counts(votes).astype(np.float64)
    raters = counts.sum(axis=1)
    pairs = raters * (raters - 1)
    same = (counts * (counts - 1)).sum(axis=1)
    return np.divide(same, pairs, out=np.full_like(same, np.nan), where=raters >= 2)


@dataclass(frozen=True)
class Agreement:
    """Inter-annotator agreement of a vote table.

    Attributes:
        percent_agreement: mean ``P_i`` over faces with at least two votes (``P-bar``).
        fleiss_kappa: chance-corrected agreement (1 = perfect, 0 = chance level).
        items: number of faces with at least two votes that entered the statistics.
    """

    percent_agreement: float
    fleiss_kappa: float
    items: int


def agreement(votes: np.ndarray) -> Agreement:
    """Percent agreement and Fleiss' kappa (Fleiss 1971, Eqs. 2-5).

    ``kappa = (P-bar - P_e) / (1 - P_e)`` with ``P_e = sum_j p_j^2`` and ``p_j`` the share of
    all votes given to class ``j``. Faces with fewer than two votes are left out; faces may
    have different numbers of votes (each ``P_i`` uses its own ``n_i``). Returns NaN values
    when no face has two votes, and a NaN kappa when every vote is for one class (``P_e = 1``).
    """
    counts = _counts(votes).astype(np.float64)
    per_item = item_agreement(counts)
    rated = ~np.isnan(per_item)
    if not rated.any():
        return Agreement(percent_agreement=float("nan"), fleiss_kappa=float("nan"), items=0)
    mean_agreement = float(per_item[rated].mean())
    shares = counts[rated].sum(axis=0) / counts[rated].sum()
    chance = float((shares**2).sum())
    kappa = float("nan") if np.isclose(chance, 1.0) else (mean_agreement - chance) / (1.0 - chance)
    return Agreement(percent_agreement=mean_agreement, fleiss_kappa=kappa, items=int(rated.sum()))


def fleiss_kappa(votes: np.ndarray) -> float:
    """Fleiss' kappa of a vote table (see :func:`agreement`)."""
    return agreement(votes).fleiss_kappa
