"""An honest test set: a project without labeled test faces reserves a random test sample of the pool,
labeled first, counted in the budget, never trained on nor selected; the dashboard says why there is no
curve until it is labeled."""

from __future__ import annotations

import numpy as np
import pytest

from annotator import assignment, ml_bridge
from annotator.ml_bridge.cycle_inputs import CycleInputs, training_dataset
from annotator.ml_bridge.cycles import train_score_select
from annotator.ml_bridge.predictions import read_predictions
from annotator.models import Face, Project, Split
from annotator.selectors import evaluation_split
from annotator.selectors.dashboard import learning_curve_unavailable_reason
from annotator.services import imports, labeling_start
from annotator.services.cycle_inputs import cycle_inputs
from annotator.services.errors import InvalidInput
from ml_engine.progress import ignore_progress, never_cancelled
from tests.annotator.factories import (
    FaceFactory,
    add_annotator,
    cast_vote,
    make_labeling_project,
    make_project,
)

pytestmark = pytest.mark.django_db


def unlabeled_project(pool: int = 40, **settings) -> Project:
    defaults = {"initial_set_size": 6, "batch_size": 6, "budget_votes": 100}
    project = make_project(**{**defaults, **settings})
    for _ in range(pool):
        FaceFactory(project=project)
    return project


def answer_all(project: Project, user, limit: int | None = None) -> list[int]:
    answered = []
    while limit is None or len(answered) < limit:
        leases = assignment.next_faces(project, user, 1)
        if not leases:
            return answered
        face_id = leases[0].entry.face_id
        cast_vote(project, user, face_id, "label", (face_id % 4,))
        answered.append(face_id)
    return answered


def test_a_random_test_sample_is_reserved_and_queued_before_the_initial_batch():
    project = unlabeled_project(pool=40)
    cycle = labeling_start.start_labeling(project)

    test_ids = set(Face.objects.filter(project=project, split=Split.TEST).values_list("id", flat=True))
    queue = list(cycle.entries.order_by("position").values_list("face_id", flat=True))
    assert len(test_ids) == 2  # 5% of 40
    assert set(queue[:2]) == test_ids
    assert len(queue) == cycle.batch_size == 2 + 6
    assert not set(queue[2:]) & test_ids
    assert Face.objects.filter(project=project, split=Split.POOL).count() == 38


def test_the_sample_is_seeded_by_the_project_and_sized_by_its_setting():
    first, second = unlabeled_project(pool=30, seed=3), unlabeled_project(pool=30, seed=3)
    for project in (first, second):
        labeling_start.start_labeling(project)
    positions = []  # each test face's rank among its project's faces: the same draw in both
    for project in (first, second):
        ids = list(Face.objects.filter(project=project).order_by("id").values_list("id", flat=True))
        test = Face.objects.filter(project=project, split=Split.TEST).values_list("id", flat=True)
        positions.append(sorted(ids.index(face_id) for face_id in test))
    assert positions[0] == positions[1]

    sized = unlabeled_project(pool=30, test_sample_size=5)
    none = unlabeled_project(pool=30, test_sample_size=0)
    labeling_start.start_labeling(sized)
    labeling_start.start_labeling(none)
    assert Face.objects.filter(project=sized, split=Split.TEST).count() == 5
    assert Face.objects.filter(project=none, split=Split.TEST).count() == 0
    assert (
        evaluation_split.sample_size(
            Project(test_sample_size=None, budget_votes=10**6, votes_per_face=1), 20_000
        )
        == 500
    )
    assert (
        evaluation_split.sample_size(Project(test_sample_size=50, budget_votes=40, votes_per_face=2), 1000)
        == 10
    )


def test_a_project_with_labeled_test_faces_reserves_nothing():
    project = make_labeling_project(pool=20, test=3)
    assert Face.objects.filter(project=project, split=Split.TEST).count() == 3
    assert not assignment.current_cycle(project).entries.filter(face__split=Split.TEST).exists()


def test_votes_label_the_sample_spend_the_budget_and_never_exceed_it():
    project = unlabeled_project(pool=40, budget_votes=5)  # 2 test faces + 3 of the initial set
    user = add_annotator(project).user
    cycle = labeling_start.start_labeling(project)
    assert cycle.batch_size == 2 + 3

    answered = answer_all(project, user)

    project.refresh_from_db()
    assert project.votes_spent == project.budget_votes == 5
    sample = Face.objects.filter(project=project, split=Split.TEST)
    assert set(answered[:2]) == set(sample.values_list("id", flat=True))
    assert all(face.label_index == face.id % 4 for face in sample)


def test_a_labeled_test_face_still_refuses_votes():
    project = make_labeling_project(pool=4)
    labeled = Face.objects.filter(project=project, split=Split.TEST).first()
    with pytest.raises(InvalidInput):
        cast_vote(project, project.owner, labeled.pk, "label", (0,))


def test_the_sample_is_evaluated_on_never_trained_on_and_never_selected(tmp_path):
    project = unlabeled_project(pool=40, model_name="small_cnn", image_size=16)
    first = labeling_start.start_labeling(project)
    answer_all(project, add_annotator(project).user, limit=first.batch_size)  # labeling goes on after it
    test_ids = set(Face.objects.filter(project=project, split=Split.TEST).values_list("id", flat=True))
    inputs = cycle_inputs(project, project.cycles.get(number=0))
    dataset = training_dataset(inputs)
    names = np.asarray(dataset.names).astype(int)
    assert set(names[dataset.splits == "test"]) == test_ids
    test_rows = dataset.splits == "test"
    # each test face carries the class its one vote gave it (answer_all votes face_id % 4)
    assert dataset.labels[test_rows].tolist() == [face_id % 4 for face_id in names[test_rows]]
    assert not set(names[dataset.splits == "train"]) & test_ids

    inputs = CycleInputs(**{**inputs.__dict__, "epochs": 1})
    outcome = train_score_select(
        inputs, tmp_path, cycle_number=0, device="cpu", progress=ignore_progress, cancel=never_cancelled
    )

    assert outcome.labels_used == 6
    assert sum(sum(row) for row in outcome.metrics["confusion"]) == 2
    assert outcome.ranked_face_ids and not set(outcome.ranked_face_ids) & test_ids
    assert not set(read_predictions(outcome.predictions_path)[ml_bridge.FACE_IDS_KEY].tolist()) & test_ids


def test_the_import_says_what_the_test_set_will_be():
    project = make_project(budget_votes=100)
    faces = ml_bridge.synthetic_faces(40, seed=1, image_size=16)

    summary = imports.import_dataset(project, faces, split="pool").as_dict()

    assert summary["test_set"]["reserved_on_start"] == 2
    assert summary["test_set"]["labeled_test_faces"] == 0
    assert "2 random pool faces are reserved as the test set" in summary["test_set"]["message"]


def test_the_dashboard_says_why_there_is_no_curve_until_the_sample_is_labeled(client_for):
    project = unlabeled_project(pool=40)
    client = client_for(project.owner)

    def reason() -> str | None:
        response = client.get(f"/api/projects/{project.pk}/dashboard/")
        assert response.status_code == 200, response.content
        return response.json()["learning_curve_unavailable_reason"]

    assert "2 random pool faces are reserved" in reason()
    labeling_start.start_labeling(project)
    assert reason().startswith("No learning curve yet: the 2 faces of the test sample are labeled first")
    answer_all(project, add_annotator(project).user, limit=2)
    assert reason() == "No learning curve yet: its first point comes with the first trained model."
    assert learning_curve_unavailable_reason(project, model=object()) is None


def test_pool_faces_imported_with_labels_join_the_sample_labeled_and_are_not_queued():
    project = unlabeled_project(pool=40)
    labeled = set(Face.objects.filter(project=project).order_by("id").values_list("id", flat=True)[:30])
    Face.objects.filter(pk__in=labeled).update(imported_label=1)
    cycle = labeling_start.start_labeling(project)

    test_ids = set(Face.objects.filter(project=project, split=Split.TEST).values_list("id", flat=True))
    queue = set(cycle.entries.values_list("face_id", flat=True))
    assert len(test_ids) == 2
    assert len(queue) == 6 + len(test_ids - labeled)  # the initial set and the unlabeled test faces
    assert not queue & test_ids & labeled  # a labeled test face is never handed out for votes
    annotator = add_annotator(project).user
    answered = answer_all(project, annotator, limit=len(queue))  # every face handed out takes its vote
    assert set(answered) == queue
