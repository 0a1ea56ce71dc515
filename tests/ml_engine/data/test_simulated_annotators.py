"""Simulated annotators: look-alike confusion grows as intensity falls, votes follow blends."""

from __future__ import annotations

import numpy as np

from ml_engine.data.annotators import confusion_kernel, simulate_votes
from ml_engine.data.expressions import SEVEN_CLASSES

FEAR, SURPRISE, ANGER = (SEVEN_CLASSES.index(name) for name in ("fear", "surprise", "anger"))


def _votes(intensity: float, blend: int = -1, weight: float = 0.0, n: int = 2000, k: int = 10):
    labels = np.full(n, FEAR)
    return simulate_votes(
        labels,
        np.full(n, intensity),
        np.full(n, blend),
        np.full(n, weight),
        SEVEN_CLASSES,
        k,
        np.random.default_rng(0),
    )


def test_low_intensity_fear_gets_more_surprise_votes_than_high_intensity_fear():
    low, high = _votes(0.25).counts, _votes(0.95).counts
    assert low[:, SURPRISE].mean() > 2 * high[:, SURPRISE].mean()
    assert low[:, FEAR].mean() < high[:, FEAR].mean()
    assert high[:, FEAR].mean() > 8.0  # clear faces: most annotators agree


def test_votes_follow_the_blend():
    blended, pure = _votes(0.9, blend=ANGER, weight=0.4).counts, _votes(0.9).counts
    assert blended[:, ANGER].mean() > 3.0
    assert pure[:, ANGER].mean() < 0.5


def test_records_match_counts_and_annotators_are_distinct_per_face():
    votes = _votes(0.5, n=50, k=6)
    assert votes.counts.sum(axis=1).tolist() == [6] * 50
    rebuilt = np.zeros_like(votes.counts)
    np.add.at(rebuilt, (votes.face, votes.label), 1)
    assert np.array_equal(rebuilt, votes.counts)
    for face in range(50):
        annotators = votes.annotator[votes.face == face]
        assert len(set(annotators.tolist())) == 6
    assert votes.reliability.min() < votes.reliability.max()  # reliability varies between annotators


def test_confusion_kernel_pairs_look_alikes():
    kernel = confusion_kernel(SEVEN_CLASSES)
    assert np.allclose(kernel.sum(axis=1), 1.0)
    assert np.all(np.diag(kernel) == 0.0)
    for a, b in (("fear", "surprise"), ("disgust", "anger"), ("sadness", "neutral")):
        row = kernel[SEVEN_CLASSES.index(a)]
        assert row.argmax() == SEVEN_CLASSES.index(b)
