"""The crowd bridge: Dawid-Skene reliabilities per annotator, as the dashboard shows them."""

from __future__ import annotations

import numpy as np

from annotator.ml_bridge.crowd import annotator_reliability

CLASSES = ("neutral", "happiness", "surprise")


def planted_votes(rng: np.random.Generator) -> np.ndarray:
    """300 faces, three annotators each: users 7 and 8 answer right 90% of the time; user 9
    answers "surprise" for every true "happiness" and is right on the other classes."""
    truth = rng.integers(0, 3, 300)
    rows = []
    for item, true in enumerate(truth):
        for user in (7, 8):
            answer = true if rng.random() < 0.9 else rng.choice([c for c in range(3) if c != true])
            rows.append((1000 + item, user, answer))
        rows.append((1000 + item, 9, 2 if true == 1 else true))
    return np.asarray(rows)


def test_a_planted_confusion_makes_its_annotator_the_least_reliable() -> None:
    crowd = annotator_reliability(planted_votes(np.random.default_rng(0)), CLASSES)

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
    assert annotator_reliability(votes, CLASSES) == {}


def test_an_annotator_who_never_strays_has_no_top_confusion() -> None:
    votes = np.asarray([(item, user, item % 3) for item in range(30) for user in (1, 2)])
    crowd = annotator_reliability(votes, CLASSES)
    assert [row["top_confusion"] for row in crowd["annotators"]] == [None, None]
    assert [row["reliability"] for row in crowd["annotators"]] == [1.0, 1.0]
