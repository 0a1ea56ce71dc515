"""The dashboard's per-class quality (recall, precision, warnings) and its agreement figures,
against tables worked out by hand."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from annotator.models import Face, ModelVersion, Split, Vote, VoteKind
from annotator.selectors.dashboard import FEW_LABELS_PER_CLASS
from tests.annotator.factories import UserFactory, add_annotator, make_labeling_project

pytestmark = pytest.mark.django_db


def _vote(project, face, user, class_index, kind=VoteKind.LABEL, retracted=False):
    Vote.objects.create(
        project=project,
        face=face,
        annotator=user,
        client_id=uuid.uuid4(),
        kind=kind,
        class_index=class_index,
        retracted_at=timezone.now() if retracted else None,
    )


def test_recall_precision_and_the_warnings_of_the_newest_model(client_for):
    project = make_labeling_project(pool=30)
    pool = list(Face.objects.filter(project=project, split=Split.POOL).order_by("id"))
    for index, face in enumerate(pool):  # 25 neutral, 5 happiness, no surprise, no sadness
        face.label_index = 0 if index < 25 else 1
        face.save(update_fields=["label_index"])
    # Rows true, columns predicted; surprise is never predicted, sadness never occurs.
    confusion = [[4, 1, 0, 0], [1, 2, 0, 0], [0, 1, 0, 1], [0, 0, 0, 0]]
    metrics = {
        "accuracy": 0.6,
        "macro_f1": 0.4,
        "confusion": confusion,
        "per_class_recall": [0.8, 2 / 3, 0.0, None],
        "per_class_precision": [0.8, 0.5, None, 0.0],
    }
    ModelVersion.objects.create(project=project, version=3, labels_used=30, metrics=metrics)
    shown = client_for(project.owner).get(f"/api/projects/{project.pk}/dashboard/").json()["confusion"]
    assert shown["version"] == 3 and shown["matrix"] == confusion
    assert shown["recall"] == [0.8, 2 / 3, 0.0, None]
    assert shown["precision"] == [0.8, 0.5, None, 0.0]
    assert shown["few_labels"] == FEW_LABELS_PER_CLASS == 20
    assert shown["warnings"] == [
        "happiness: 5 labeled faces, fewer than 20",
        "surprise: 0 labeled faces, fewer than 20",
        "sadness: 0 labeled faces, fewer than 20",
        "surprise: never predicted on the test split by model v3",
    ]  # neutral (25 faces, predicted 5 times) gets none


def test_before_any_model_only_the_label_counts_warn(client_for):
    project = make_labeling_project(pool=2)
    shown = client_for(project.owner).get(f"/api/projects/{project.pk}/dashboard/").json()["confusion"]
    assert (shown["version"], shown["matrix"], shown["recall"], shown["precision"]) == (
        None,
        None,
        None,
        None,
    )
    assert len(shown["warnings"]) == 4 and all("0 labeled faces" in warning for warning in shown["warnings"])


def test_agreement_matches_fleiss_worked_by_hand(client_for):
    project = make_labeling_project(pool=5)
    a, b, c, d, e = Face.objects.filter(project=project, split=Split.POOL).order_by("id")
    users = [add_annotator(project, UserFactory()).user for _ in range(3)]
    table = {a: [0, 0, 0], b: [0, 0, 1], c: [1, 2, 3], d: [2, 2], e: [0]}
    for face, answers in table.items():
        for user, answer in zip(users, answers, strict=False):
            _vote(project, face, user, answer)
    _vote(project, d, users[2], None, kind=VoteKind.SKIP)  # a skip is no class vote
    _vote(project, e, users[1], 3, retracted=True)  # a retracted vote no longer counts
    # Counts per class (neutral, happiness, surprise, sadness); face e has one vote: left out.
    #   a: 3 0 0 0  P_a = (9 - 3) / (3 * 2) = 1
    #   b: 2 1 0 0  P_b = (4 + 1 - 3) / 6 = 1/3
    #   c: 0 1 1 1  P_c = (1 + 1 + 1 - 3) / 6 = 0
    #   d: 0 0 2 0  P_d = (4 - 2) / (2 * 1) = 1
    # Percent agreement P-bar = (1 + 1/3 + 0 + 1) / 4 = 7/12 = 0.58333 -> shown 58.3%.
    # Votes per class over the 11 votes: 5, 2, 3, 1 -> P_e = (25 + 4 + 9 + 1) / 121 = 39/121.
    # kappa = (7/12 - 39/121) / (1 - 39/121) = (379/1452) / (82/121) = 379/984 = 0.38516 -> 0.39.
    agreement = client_for(project.owner).get(f"/api/projects/{project.pk}/dashboard/").json()["agreement"]
    assert agreement == {"percent_agreement": 0.5833, "fleiss_kappa": 0.3852, "faces": 4}
    assert round(7 / 12, 4) == 0.5833 and round(379 / 984, 4) == 0.3852
