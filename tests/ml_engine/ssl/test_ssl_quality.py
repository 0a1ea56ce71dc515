"""kNN and linear-probe accuracy against plain reference implementations and known answers."""

from __future__ import annotations

import numpy as np
import pytest

from ml_engine.ssl.quality import knn_accuracy, linear_probe_accuracy


def reference_knn(train, labels, test, k, temperature=0.07, classes=3):
    train = train / np.linalg.norm(train, axis=1, keepdims=True)
    predictions = []
    for query in test:
        similarity = train @ (query / np.linalg.norm(query))
        nearest = np.argsort(-similarity)[:k]
        votes = np.zeros(classes)
        for j in nearest:
            votes[labels[j]] += np.exp(similarity[j] / temperature)
        predictions.append(votes.argmax())
    return np.array(predictions)


def test_knn_matches_the_reference_loop() -> None:
    rng = np.random.default_rng(0)
    train, labels, test = rng.normal(size=(60, 5)), rng.integers(0, 3, 60), rng.normal(size=(25, 5))
    test_labels = reference_knn(train, labels, test, 7)
    assert knn_accuracy(train, labels, test, test_labels, k=7, chunk=10) == 1.0
    wrong = (test_labels + 1) % 3
    assert knn_accuracy(train, labels, test, wrong, k=7) == 0.0
    half = np.where(np.arange(25) % 2 == 0, test_labels, wrong)
    assert knn_accuracy(train, labels, test, half, k=7) == pytest.approx(13 / 25)


def test_knn_on_a_case_with_a_known_answer() -> None:
    """Two labelled directions; a query at 30 degrees from the first and 60 from the second."""
    train = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    labels = np.array([0, 0, 1])
    queries = np.array([[np.cos(np.pi / 6), np.sin(np.pi / 6)], [0.0, 3.0], [-1.0, 0.1]])
    # k=1: nearest neighbours are class 0, class 1, and class 1 (cos 0.0995 > cos -0.995).
    assert knn_accuracy(train, labels, queries, np.array([0, 1, 1]), k=1) == 1.0
    # k=3, all vote: query 3 sees weights 2 exp(-0.995/0.07) for class 0, exp(0.0995/0.07) for 1.
    assert knn_accuracy(train, labels, queries, np.array([0, 1, 1]), k=3) == 1.0
    # With a hot temperature the two class-0 votes outweigh the single nearer class-1 vote.
    assert knn_accuracy(train, labels, queries[2:], np.array([0]), k=3, temperature=100.0) == 1.0
    assert knn_accuracy(train, labels, queries[2:], np.array([1]), k=1, temperature=100.0) == 1.0


def test_separable_classes_are_recognised_and_noise_is_at_chance() -> None:
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(3, 10)) * 4
    labels = rng.integers(0, 3, 300)
    features = centres[labels] + rng.normal(size=(300, 10))
    assert knn_accuracy(features[:200], labels[:200], features[200:], labels[200:]) == 1.0
    assert linear_probe_accuracy(features[:200], labels[:200], features[200:], labels[200:]) == 1.0
    noise = rng.normal(size=(300, 10))
    assert linear_probe_accuracy(noise[:200], labels[:200], noise[200:], labels[200:]) < 0.55


def test_unlabelled_reference_faces_are_refused() -> None:
    with pytest.raises(ValueError, match="labelled"):
        knn_accuracy(np.ones((3, 2)), np.array([0, -1, 1]), np.ones((1, 2)), np.array([0]))
