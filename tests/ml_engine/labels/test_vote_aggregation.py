from __future__ import annotations

import numpy as np
import pytest

from ml_engine.labels import (
    agreement,
    candidate_sets,
    fleiss_kappa,
    item_agreement,
    majority_labels,
    vote_distribution,
)

# FERPlus rows (8 emotions | unknown, not-a-face); expected values worked by hand from the FERPlus rules in docs/reference-implementations.md §6.
FERPLUS_ROWS = np.array(
    [
        [4, 0, 0, 1, 3, 2, 0, 0, 0, 0],  # 4 of 9 kept votes: no majority
        [6, 0, 1, 1, 0, 0, 0, 0, 2, 0],  # single votes dropped: 6 of 8 -> neutral
        [4, 0, 0, 4, 1, 0, 0, 0, 1, 0],  # tie 4/4: no label
        [0, 10, 0, 0, 0, 0, 0, 0, 0, 0],  # unanimous
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # no votes
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],  # only single votes
        [2, 0, 0, 0, 0, 0, 0, 0, 5, 3],  # "unknown" wins
        [0, 0, 3, 0, 0, 0, 0, 0, 0, 0],  # 3 of 3
    ]
)


def test_majority_follows_the_ferplus_rule() -> None:
    labels = majority_labels(FERPLUS_ROWS[:, :8], other_votes=FERPLUS_ROWS[:, 8:])
    assert labels.tolist() == [-1, 0, -1, 1, -1, -1, -1, 2]
    assert labels.dtype == np.int64


def test_majority_without_other_votes_and_single_vote_projects() -> None:
    # Without the unknown column, row 6 is 2 of 2 kept votes -> neutral.
    assert majority_labels(FERPLUS_ROWS[:, :8])[6] == 0
    single = np.array([[0, 1, 0], [0, 0, 0], [1, 0, 0]])
    assert majority_labels(single).tolist() == [-1, -1, -1]  # FERPlus drops single votes
    assert majority_labels(single, min_count=1).tolist() == [1, -1, 0]
    # Exactly half is not a majority.
    assert majority_labels(np.array([[2, 2, 0], [3, 2, 0]]), min_count=1).tolist() == [-1, 0]


def test_vote_distribution_drops_outliers_and_keeps_empty_rows_zero() -> None:
    dist = vote_distribution(FERPLUS_ROWS[:, :8], min_count=2)
    np.testing.assert_allclose(dist[0], [4 / 9, 0, 0, 0, 3 / 9, 2 / 9, 0, 0])
    np.testing.assert_allclose(dist[3], np.eye(8)[1])
    assert not dist[4].any() and not dist[5].any()
    np.testing.assert_allclose(vote_distribution(FERPLUS_ROWS[:, :8])[5], np.full(8, 1 / 8))


def test_candidate_sets_threshold_and_fallback() -> None:
    votes = np.array([[4, 0, 0, 1, 3, 2, 0, 0], [1, 1, 0, 0, 0, 0, 0, 0], [0] * 8, [0, 0, 9, 1, 0, 0, 0, 0]])
    sets = candidate_sets(votes, k=2)
    assert np.flatnonzero(sets[0]).tolist() == [0, 4, 5]
    assert np.flatnonzero(sets[1]).tolist() == [0, 1]  # nothing reaches k: most-voted classes
    assert not sets[2].any()
    assert np.flatnonzero(sets[3]).tolist() == [2]
    assert np.flatnonzero(candidate_sets(votes, k=1)[3]).tolist() == [2, 3]
    with pytest.raises(ValueError):
        candidate_sets(votes, k=0)


def test_fleiss_kappa_matches_the_textbook_example() -> None:
    # Fleiss (1971) style example as tabulated on Wikipedia "Fleiss' kappa": 10 subjects,
    # 14 raters, 5 categories; P-bar = 0.378, P_e = 0.213, kappa = 0.210.
    table = np.array(
        [
            [0, 0, 0, 0, 14],
            [0, 2, 6, 4, 2],
            [0, 0, 3, 5, 6],
            [0, 3, 9, 2, 0],
            [2, 2, 8, 1, 1],
            [7, 7, 0, 0, 0],
            [3, 2, 6, 3, 0],
            [2, 5, 3, 2, 2],
            [6, 5, 2, 1, 0],
            [0, 2, 2, 3, 7],
        ]
    )
    result = agreement(table)
    assert result.percent_agreement == pytest.approx(0.378, abs=5e-4)
    assert result.fleiss_kappa == pytest.approx(0.210, abs=5e-4)
    assert result.items == 10
    assert item_agreement(table)[1] == pytest.approx((2 + 30 + 12 + 2) / (14 * 13))


def test_agreement_edge_cases() -> None:
    perfect = np.array([[3, 0], [0, 3]])
    assert agreement(perfect).percent_agreement == 1.0
    assert fleiss_kappa(perfect) == pytest.approx(1.0)
    assert np.isnan(fleiss_kappa(np.array([[3, 0], [2, 0]])))  # one class only: chance = 1
    assert agreement(np.array([[1, 0], [0, 0]])).items == 0
    assert np.isnan(item_agreement(np.array([[1, 0]]))[0])
