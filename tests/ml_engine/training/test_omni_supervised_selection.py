"""Auxiliary-face selection by cosine to class centroids (Liu et al., omni-supervised FER, Eq. 3-5)."""

from __future__ import annotations

import numpy as np
import pytest

from ml_engine.training.omni_supervised import class_centroids, select_auxiliary

# Three classes along the axes of a 3-D feature space, two labeled faces each, of varied norm.
LABELED = np.array(
    [[2.0, 0.1, 0.0], [3.0, -0.1, 0.0], [0.0, 1.0, 0.2], [0.0, 5.0, -0.2], [0, 0, 1], [0, 0, 4.0]]
)
LABELS = np.array([0, 0, 1, 1, 2, 2])


def test_centroids_are_unit_norm_means_of_normalised_features() -> None:
    centroids = class_centroids(LABELED, LABELS, 3)
    np.testing.assert_allclose(np.linalg.norm(centroids, axis=1), [1.0, 1.0, 1.0], atol=1e-12)
    normalised = LABELED[:2] / np.linalg.norm(LABELED[:2], axis=1, keepdims=True)
    mean = normalised.mean(axis=0)
    np.testing.assert_allclose(centroids[0], mean / np.linalg.norm(mean), atol=1e-12)


def test_class_without_labeled_faces_has_no_centroid_and_is_never_assigned() -> None:
    centroids = class_centroids(LABELED[:4], LABELS[:4], 3)
    assert np.isnan(centroids[2]).all()
    selection = select_auxiliary(LABELED[:4], LABELS[:4], np.array([[0.0, 0.0, 1.0]]), 3, delta=-1.0)
    assert 2 not in selection.labels.tolist()


def test_face_equal_to_a_centroid_is_kept_with_that_label() -> None:
    centroids = class_centroids(LABELED, LABELS, 3)
    selection = select_auxiliary(LABELED, LABELS, 7.0 * centroids[[1, 0, 2]], 3, delta=0.5)
    assert selection.indices.tolist() == [0, 1, 2]
    assert selection.labels.tolist() == [1, 0, 2]
    np.testing.assert_allclose(selection.similarities, [1.0, 1.0, 1.0], atol=1e-12)
    assert selection.per_class.tolist() == [1, 1, 1]
    assert selection.delta == 0.5 and selection.rule == "margin" and selection.candidates == 3


def test_face_equidistant_from_two_centroids_is_refused_under_the_margin_rule() -> None:
    centroids = class_centroids(LABELED, LABELS, 3)
    between = (centroids[0] + centroids[1])[None]
    for delta in (0.0, 0.01):
        assert select_auxiliary(LABELED, LABELS, between, 3, delta=delta).indices.tolist() == []
    # The absolute-threshold variant has no margin: the tie clears a low threshold.
    kept = select_auxiliary(LABELED, LABELS, between, 3, delta=0.1, rule="threshold")
    assert kept.indices.tolist() == [0]


def test_threshold_rule_keeps_faces_whose_best_similarity_reaches_delta() -> None:
    centroids = class_centroids(LABELED, LABELS, 3)
    near = centroids[0] + 0.3 * centroids[1]
    far = centroids[0] + 2.0 * centroids[1]
    similarity_near = near @ centroids[0] / np.linalg.norm(near)
    selection = select_auxiliary(
        LABELED, LABELS, np.stack([near, far]), 3, delta=similarity_near - 1e-9, rule="threshold"
    )
    assert selection.indices.tolist() == [0]
    assert selection.labels.tolist() == [0]


def test_larger_delta_keeps_a_subset_of_a_smaller_delta() -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(500, 3))
    previous = None
    for delta in (0.0, 0.05, 0.2, 0.5, 1.0):
        kept = set(select_auxiliary(LABELED, LABELS, features, 3, delta=delta).indices.tolist())
        if previous is not None:
            assert kept <= previous
            assert kept != previous or not kept
        previous = kept
    assert len(previous) < 500


def test_per_class_cap_keeps_the_largest_margins_of_each_class() -> None:
    rng = np.random.default_rng(1)
    features = rng.normal(size=(300, 3))
    full = select_auxiliary(LABELED, LABELS, features, 3, delta=0.05)
    capped = select_auxiliary(LABELED, LABELS, features, 3, delta=0.05, max_per_class=4)
    assert capped.per_class.tolist() == [min(4, count) for count in full.per_class]
    assert set(capped.indices.tolist()) <= set(full.indices.tolist())
    for label in range(3):
        margins_full = np.sort(full.margins[full.labels == label])[::-1][:4]
        np.testing.assert_allclose(np.sort(capped.margins[capped.labels == label])[::-1], margins_full)
    assert select_auxiliary(LABELED, LABELS, features, 3, delta=0.05, max_per_class=0).indices.tolist() == []


def test_margin_rule_needs_two_classes_and_rejects_unknown_rules() -> None:
    one_class = select_auxiliary(LABELED[:2], LABELS[:2], LABELED, 3, delta=0.0)
    assert one_class.indices.tolist() == [] and one_class.per_class.tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="unknown selection rule"):
        select_auxiliary(LABELED, LABELS, LABELED, 3, delta=0.1, rule="softmax")  # type: ignore[arg-type]
