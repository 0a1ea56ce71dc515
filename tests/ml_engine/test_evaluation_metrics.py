from __future__ import annotations

import numpy as np
import pytest

from ml_engine.evaluation import evaluate

CLASSES = ("neutral", "happy", "sad")


def _one_hot(predicted: list[int]) -> np.ndarray:
    return np.eye(3)[predicted]


def test_metrics_match_a_hand_computed_case():
    labels = np.array([0, 0, 0, 1, 1, 2, -1, -1])
    predicted = [0, 0, 1, 1, 2, 2, 2, 0]  # last two unlabelled: ignored
    metrics = evaluate(labels, _one_hot(predicted), CLASSES)
    assert metrics.count == 6
    assert metrics.accuracy == pytest.approx(4 / 6)
    np.testing.assert_array_equal(metrics.confusion, [[2, 1, 0], [0, 1, 1], [0, 0, 1]])
    np.testing.assert_allclose(metrics.per_class_recall, [2 / 3, 1 / 2, 1.0])
    # F1: neutral 2*2/(3+2)=0.8, happy 2*1/(2+2)=0.5, sad 2*1/(1+2)=2/3
    assert metrics.macro_f1 == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)


def test_precision_is_the_share_of_each_predicted_column_that_is_right():
    labels = np.array([0, 0, 0, 1, 1, 2])
    metrics = evaluate(labels, _one_hot([0, 0, 1, 1, 2, 2]), CLASSES)
    # Columns of [[2, 1, 0], [0, 1, 1], [0, 0, 1]]: neutral 2/2, happy 1/2, sad 1/2.
    np.testing.assert_allclose(metrics.per_class_precision, [1.0, 0.5, 0.5])
    never_sad = evaluate(np.array([0, 1, 2]), _one_hot([0, 1, 1]), CLASSES)
    # sad is never predicted: its precision is undefined, not 0; happy is right 1 time of 2.
    np.testing.assert_allclose(never_sad.per_class_precision[:2], [1.0, 0.5])
    assert np.isnan(never_sad.per_class_precision[2])
    assert never_sad.as_dict()["per_class_precision"] == {"neutral": 1.0, "happy": 0.5, "sad": None}


def test_absent_class_gets_nan_recall_and_is_left_out_of_macro_f1():
    metrics = evaluate(np.array([0, 1, 1]), _one_hot([0, 1, 0]), CLASSES)
    assert np.isnan(metrics.per_class_recall[2])
    # neutral: 2*1/(1+2)=2/3; happy: 2*1/(2+1)=2/3; sad neither true nor predicted
    assert metrics.macro_f1 == pytest.approx(2 / 3)
    assert metrics.as_dict()["per_class_recall"]["sad"] is None


def test_predicted_but_absent_class_counts_with_zero_f1():
    metrics = evaluate(np.array([0, 0]), _one_hot([0, 2]), CLASSES)
    # neutral: 2*1/(2+1)=2/3; sad: 0 (predicted once, never true)
    assert metrics.macro_f1 == pytest.approx((2 / 3 + 0.0) / 2)


def test_perfect_predictions():
    labels = np.array([2, 1, 0, 1])
    metrics = evaluate(labels, _one_hot(labels.tolist()) * 0.9 + 0.03, CLASSES)
    assert metrics.accuracy == 1.0 and metrics.macro_f1 == 1.0
    assert metrics.confusion.dtype == np.int64 and metrics.confusion.trace() == 4


def test_errors_on_shapes_and_empty_labels():
    with pytest.raises(ValueError, match="shape"):
        evaluate(np.array([0, 1]), np.zeros((2, 2)), CLASSES)
    with pytest.raises(ValueError, match="no labelled"):
        evaluate(np.array([-1, -1]), np.zeros((2, 3)), CLASSES)
