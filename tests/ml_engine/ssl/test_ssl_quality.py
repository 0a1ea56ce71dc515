"""kNN and linear-probe accuracy against plain reference implementations and known answers."""

from __future__ import annotations

import numpy as np
import pytest

from ml_engine.ssl.quality import knn_accuracy, knn_predict, linear_probe_accuracy


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
    scores = knn_predict(train, labels, test, k=7, num_classes=3, chunk=10)
    np.testing.assert_array_equal(scores.argmax(1), reference_knn(train, labels, test, 7))
    test_labels = rng.integers(0, 3, 25)
    expected = np.mean(reference_knn(train, labels, test, 7) == test_labels)
    assert knn_accuracy(train, labels, test, test_labels, k=7) == pytest.approx(expected)


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
        knn_predict(np.ones((3, 2)), np.array([0, -1, 1]), np.ones((1, 2)))
