"""Class-balanced selection: any strategy's picks spread across the model's predicted classes.

On FER data an uncertainty strategy keeps asking about the classes the model already
confuses most often in the pool (neutral, sad), while disgust, fear and contempt, a few
hundred faces out of 25,000, rarely reach the top of any score: the rare classes starve.
This wrapper splits the batch into per-class quotas over the *predicted* class of each
candidate (the true class is unknown before labeling) and lets the wrapped strategy choose
within each class.

The rule: a class holding ``n_c`` candidates gets a share proportional to ``sqrt(n_c)``,
and every class with candidates gets at least ``minimum_per_class`` picks (fewer only when
it has fewer candidates or the batch is too small). Square-root resampling is the middle
ground Mahajan et al. (*Exploring the Limits of Weakly Supervised Pretraining*, ECCV 2018)
use for their long-tailed hashtag labels: between the natural distribution, which the head
dominates, and uniform sampling, which repeats the few tail images over and over. Bengar et
al. (*Class-Balanced Active Learning for Image Classification*, WACV 2022) add a class-balance
term over predicted classes to the acquisition objective of an existing strategy and solve an
optimisation per batch; explicit quotas reach the same kind of balance with no solver and keep
the wrapped strategy's ranking untouched inside each class.

Example: candidates predicted 100 / 25 / 4 / 0 times per class and a batch of 10 give
weights 10 / 5 / 2 / 0, targets 5.88 / 2.94 / 1.18 / 0 and quotas 6 / 3 / 1 / 0.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ml_engine.strategies.base import SelectFunction, SelectionInputs, check_batch_size, required

DEFAULT_MINIMUM_PER_CLASS = 1
"""Picks every predicted class with candidates gets at least (when the batch allows)."""


def class_quotas(
    counts: np.ndarray, batch_size: int, minimum_per_class: int = DEFAULT_MINIMUM_PER_CLASS
) -> np.ndarray:
    """Picks per class: proportional to ``sqrt(counts)``, at least the minimum, at most ``counts``.

    Picks are handed out one at a time: first to classes still below the minimum (larger
    weight first, then the lower index), then to the class furthest below its target
    ``total * sqrt(n_c) / sum sqrt(n)``; a full class drops out, so its unused share goes to
    the others. The quotas sum to ``min(batch_size, counts.sum())``.

    Args:
        counts: ``(C,)`` candidates predicted as each class.
        batch_size: picks to hand out.
        minimum_per_class: floor per class with candidates.
    """
    check_batch_size(batch_size)
    counts = np.asarray(counts, dtype=np.int64)
    weights = np.sqrt(counts.astype(np.float64))
    total = int(min(batch_size, counts.sum()))
    quotas = np.zeros(len(counts), dtype=np.int64)
    if total == 0:
        return quotas
    targets = total * weights / weights.sum()
    floors = np.minimum(minimum_per_class, counts)
    for _ in range(total):
        open_classes = quotas < counts
        below = open_classes & (quotas < floors)
        if below.any():
            chosen = int(np.flatnonzero(below)[np.argmax(weights[below])])
        else:
            deficit = np.where(open_classes, targets - quotas, -np.inf)
            chosen = int(np.argmax(deficit))
        quotas[chosen] += 1
    return quotas


def interleave(per_class: list[np.ndarray]) -> np.ndarray:
    """One ranking from per-class rankings: pick ``k`` of a class with ``q`` picks sits at ``(k + 0.5) / q``.

    Every prefix of the result is then about as balanced as the whole batch (a reserve
    ranked beyond a batch, or a batch cut short, keeps the balance), and each class's
    own order is kept. Ties go to the lower class index.
    """
    keys: list[tuple[float, int]] = []
    picks: list[int] = []
    for index, ranked in enumerate(per_class):
        positions = (np.arange(len(ranked)) + 0.5) / max(len(ranked), 1)
        keys.extend((float(position), index) for position in positions)
        picks.extend(int(pick) for pick in ranked)
    order = sorted(range(len(picks)), key=lambda i: keys[i])
    return np.asarray([picks[i] for i in order], dtype=np.int64)


def select_class_balanced(
    select: SelectFunction,
    inputs: SelectionInputs,
    batch_size: int,
    seed: int,
    *,
    minimum_per_class: int = DEFAULT_MINIMUM_PER_CLASS,
    **options: object,
) -> np.ndarray:
    """Run ``select`` once per predicted class on that class's candidates, with the class's quota.

    Candidates of the other classes are passed as ``excluded``, so the wrapped strategy sees
    the same pool, labeled set and arrays as it would alone (Core-Set still treats every
    labeled face as a centre, GLISTER still steps on every labeled face). The picks of each
    class are in the wrapped strategy's order; the classes are interleaved by :func:`interleave`.

    Args:
        select: the wrapped strategy's selection function.
        inputs: the pool; ``probabilities`` are required (the predicted class is their arg-max).
        batch_size: picks in all.
        seed: passed unchanged to every per-class call.
        minimum_per_class: see :func:`class_quotas`.
        options: the wrapped strategy's own keywords.
    """
    check_batch_size(batch_size)
    probabilities = required(inputs.probabilities, "probabilities")
    candidates = inputs.candidates()
    predicted = probabilities[candidates].argmax(axis=1)
    num_classes = probabilities.shape[1]
    quotas = class_quotas(np.bincount(predicted, minlength=num_classes), batch_size, minimum_per_class)
    per_class = []
    for label in range(num_classes):
        if quotas[label] == 0:
            continue
        others = candidates[predicted != label]
        restricted = _with_excluded(inputs, others)
        per_class.append(np.asarray(select(restricted, int(quotas[label]), seed, **options), dtype=np.int64))
    return interleave(per_class)


def _with_excluded(inputs: SelectionInputs, more: np.ndarray) -> SelectionInputs:
    """A shallow copy of ``inputs`` with ``more`` indices excluded as well (arrays are shared, not copied)."""
    return replace(inputs, excluded=np.concatenate([inputs.excluded, more]))
