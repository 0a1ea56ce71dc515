"""The crowd bridge: Dawid-Skene reliabilities per annotator, and the soft training targets."""

from __future__ import annotations

import numpy as np
import pytest

from annotator.ml_bridge.crowd import annotator_reliability, fit_crowd, soft_targets
from ml_engine.data.dataset import FaceDataset

CLASSES = ("neutral", "happiness", "surprise")


def planted_votes(rng: np.random.Generator) -> np.ndarray:
    """300 faces, three annotators each: users 7 and 8 answer right 90% of the time; user 9
    answers "surprise" for every true "happiness" and is right on the other classes."""
    truth = rng.integers(0, 3, 300)
    rows = []
    for face, true in enumerate(truth):
        for user in (7, 8):
            answer = true if rng.random() < 0.9 else rng.choice([c for c in range(3) if c != true])
            rows.append((1000 + face, user, answer))
        rows.append((1000 + face, 9, 2 if true == 1 else true))
    return np.asarray(rows)


def test_a_planted_confusion_makes_its_annotator_the_least_reliable() -> None:
    crowd = annotator_reliability(fit_crowd(planted_votes(np.random.default_rng(0)), 3), CLASSES)

    by_user = {row["annotator_id"]: row for row in crowd["annotators"]}
    assert crowd["shared_faces"] == 300
    assert {user: by_user[user]["votes"] for user in (7, 8, 9)} == {7: 300, 8: 300, 9: 300}
    # user 9 is right on neutral and surprise (2/3 of faces) and always wrong on happiness
    assert abs(by_user[9]["reliability"] - 2 / 3) < 0.06
    assert by_user[7]["reliability"] > 0.85 and by_user[8]["reliability"] > 0.85
    assert by_user[9]["top_confusion"]["true"] == "happiness"
    assert by_user[9]["top_confusion"]["answered"] == "surprise"
    assert by_user[9]["top_confusion"]["rate"] > 0.95


def test_without_faces_shared_by_two_annotators_there_is_no_estimate() -> None:
    # each face voted by one annotator only (twice by the same one counts as one voter)
    votes = np.asarray([(1, 7, 0), (1, 7, 0), (2, 8, 1), (3, 9, 2)])
    assert annotator_reliability(fit_crowd(votes, 3), CLASSES) == {}


def test_an_annotator_who_never_strays_has_no_top_confusion() -> None:
    votes = np.asarray([(face, user, face % 3) for face in range(30) for user in (1, 2)])
    crowd = annotator_reliability(fit_crowd(votes, 3), CLASSES)
    assert [row["top_confusion"] for row in crowd["annotators"]] == [None, None]
    assert [row["reliability"] for row in crowd["annotators"]] == [1.0, 1.0]


def faces(face_ids: list[int], splits: list[str], labels: list[int], votes: np.ndarray) -> FaceDataset:
    images = np.zeros((len(face_ids), 4, 4), dtype=np.uint8)
    return FaceDataset(
        CLASSES, [str(i) for i in face_ids], images, np.asarray(labels), np.asarray(splits), votes
    )


def counts(triples: np.ndarray, face_ids: list[int]) -> np.ndarray:
    table = np.zeros((len(face_ids), len(CLASSES)), dtype=np.int32)
    rows = {face: index for index, face in enumerate(face_ids)}
    for face, _, label in triples:
        table[rows[face], label] += 1
    return table


@pytest.mark.parametrize("mode", ["vote_distribution", "crowd_model"])
def test_soft_targets_are_the_votes_normalised_and_never_for_test_faces(mode: str) -> None:
    # one annotator: nothing is shared, so the crowd model falls back to the vote distribution
    dataset = faces(
        [1, 2, 3, 4, 5],
        ["train", "pool", "test", "train", "pool"],
        [0, -1, 2, 1, -1],  # 2: a tie without label; 4: a confirmed pseudo-label, no votes
        np.asarray([[1, 0, 0], [1, 1, 0], [0, 0, 3], [0, 0, 0], [0, 0, 0]]),
    )
    votes = np.asarray([(1, 7, 0), (2, 7, 0), (2, 7, 1), (3, 7, 2)])

    targets = soft_targets(mode, dataset, fit_crowd(votes, 3))

    np.testing.assert_allclose(targets, [[1, 0, 0], [0.5, 0.5, 0], [0, 0, 0], [0, 1, 0], [0, 0, 0]])


def test_the_crowd_model_settles_a_tie_by_who_voted() -> None:
    triples = planted_votes(np.random.default_rng(0))
    # Two more faces, each a tie between reliable user 7 and user 9, who says "surprise" for
    # every "happiness" and is never wrong otherwise: 7 happiness / 9 surprise is a happy face;
    # 7 neutral / 9 surprise is not neutral, since user 9 never calls a neutral face surprise.
    extra = np.asarray([(5000, 7, 1), (5000, 9, 2), (5001, 7, 0), (5001, 9, 2)])
    triples = np.concatenate([triples, extra])
    face_ids = sorted({int(face) for face in triples[:, 0]})
    dataset = faces(face_ids, ["pool"] * len(face_ids), [-1] * len(face_ids), counts(triples, face_ids))

    fitted = fit_crowd(triples, 3)
    majority = soft_targets("vote_distribution", dataset, fitted)
    crowd = soft_targets("crowd_model", dataset, fitted)

    np.testing.assert_allclose(majority[-2:], [[0, 0.5, 0.5], [0.5, 0, 0.5]])
    np.testing.assert_allclose(crowd.sum(axis=1), 1.0)
    assert crowd[-2].argmax() == 1 and crowd[-2, 1] > 0.75  # the votes alone say 0.5
    assert crowd[-1, 0] < 0.2
    with pytest.raises(ValueError, match="soft-target mode"):
        soft_targets("supervised", dataset, fitted)
