from __future__ import annotations

import numpy as np
import pytest

from ml_engine.labels import dawid_skene, triples_from_counts

PRIOR = np.array([0.5, 0.3, 0.2])
# confusions[a, true, answered]: two careful annotators, two who call most faces class 0,
# and one who answers at random.
PLANTED = np.array(
    [
        [[0.90, 0.05, 0.05], [0.05, 0.90, 0.05], [0.05, 0.05, 0.90]],
        [[0.85, 0.10, 0.05], [0.10, 0.80, 0.10], [0.05, 0.10, 0.85]],
        [[0.70, 0.20, 0.10], [0.70, 0.20, 0.10], [0.60, 0.10, 0.30]],
        [[0.60, 0.30, 0.10], [0.60, 0.30, 0.10], [0.50, 0.10, 0.40]],
        [[1 / 3, 1 / 3, 1 / 3]] * 3,
    ]
)


def _simulate(num_items: int = 1000, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    truth = rng.choice(3, num_items, p=PRIOR)
    annotators_count = len(PLANTED)
    items = np.repeat(np.arange(num_items), annotators_count)
    annotators = np.tile(np.arange(annotators_count), num_items)
    cumulative = PLANTED[annotators, truth[items]].cumsum(axis=1)
    labels = (rng.random(len(items))[:, None] > cumulative).sum(axis=1)
    return truth, items, annotators, labels


def test_recovers_planted_confusions_and_beats_majority_vote() -> None:
    truth, items, annotators, labels = _simulate()
    result = dawid_skene(items, annotators, labels, 3)
    error = np.abs(result.confusions - PLANTED)
    assert error.mean() < 0.04 and error.max() < 0.12
    np.testing.assert_allclose(result.priors, PRIOR, atol=0.05)
    expected_reliability = np.einsum("c,acc->a", PRIOR, PLANTED)
    np.testing.assert_allclose(result.reliability, expected_reliability, atol=0.06)
    counts = np.zeros((len(truth), 3))
    np.add.at(counts, (items, labels), 1)
    majority_accuracy = (counts.argmax(axis=1) == truth).mean()
    assert (result.labels == truth).mean() > majority_accuracy + 0.1
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1.0)
    assert np.all(np.diff(result.objective) > -1e-9)  # EM never lowers the bound


@pytest.mark.filterwarnings("ignore:The (inplace|copy) keyword")
def test_matches_crowd_kit_at_equal_iterations() -> None:
    pandas = pytest.importorskip("pandas")
    aggregation = pytest.importorskip("crowdkit.aggregation")
    _, items, annotators, labels = _simulate(num_items=300, seed=1)
    frame = pandas.DataFrame({"task": items, "worker": annotators, "label": labels})
    # tol=-inf makes crowd-kit run exactly n_iter iterations (its own stopping score is
    # not monotone, so it stops at a different iteration than ours).
    reference = aggregation.DawidSkene(n_iter=10, tol=-np.inf).fit(frame)
    ours = dawid_skene(items, annotators, labels, 3, max_iterations=10, tolerance=-np.inf)
    probabilities = reference.probas_.reindex(columns=range(3), fill_value=0).sort_index().to_numpy()
    np.testing.assert_allclose(ours.probabilities, probabilities, atol=1e-9)
    for annotator in range(len(PLANTED)):
        errors = reference.errors_.loc[annotator].reindex(index=range(3), columns=range(3)).to_numpy()
        np.testing.assert_allclose(ours.confusions[annotator], errors.T, atol=1e-9)


def test_pooled_counts_and_items_without_votes() -> None:
    votes = np.array([[2, 1, 0], [0, 0, 0], [0, 3, 0]])
    items, annotators, labels = triples_from_counts(votes)
    assert items.tolist() == [0, 0, 0, 2, 2, 2] and labels.tolist() == [0, 0, 1, 1, 1, 1]
    assert set(annotators.tolist()) == {0}
    result = dawid_skene(items, annotators, labels, 3, num_items=3)
    assert result.labels.tolist() == [0, -1, 1]
    np.testing.assert_allclose(result.probabilities[1], result.priors)
    assert result.confusions.shape == (1, 3, 3)


def test_consistent_votes_give_the_majority_labels() -> None:
    votes = np.eye(4, dtype=np.int64)[[0, 1, 2, 3, 2, 1]] * 3
    result = dawid_skene(*triples_from_counts(votes), 4)
    assert result.labels.tolist() == [0, 1, 2, 3, 2, 1]


def test_rejects_out_of_range_labels() -> None:
    with pytest.raises(ValueError):
        dawid_skene(np.array([0]), np.array([0]), np.array([3]), 3)
