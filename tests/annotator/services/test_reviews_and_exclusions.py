"""Reviews override the votes in training and exports; excluded faces leave the loop entirely."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

from annotator import assignment
from annotator.ml_bridge import FACE_IDS_KEY, faces_to_dataset
from annotator.ml_bridge.crowd import soft_targets
from annotator.ml_bridge.reviews import pin_reviewed_targets
from annotator.ml_bridge.training import candidate_matrix
from annotator.models import Exclusion, Face, Membership, Review, Role
from annotator.services import exclusions, exports, reviews, votes
from annotator.services.cycle_inputs import cycle_inputs
from annotator.services.errors import Conflict, InvalidInput, NothingToUndo
from ml_engine.export.label_export import LabelFile
from tests.annotator.factories import CLASS_NAMES, UserFactory, add_annotator, make_labeling_project

pytestmark = pytest.mark.django_db


def vote(project, user, face_id, *classes, kind="label"):
    answer = votes.Answer(kind, tuple(classes))
    return votes.submit_vote(project, user, face_id=face_id, answer=answer, client_id=uuid.uuid4())


def disputed_project():
    """Cycle 0 open with two votes per face; the first face split 0 against 1."""
    project = make_labeling_project(votes_per_face=2, budget_votes=40)
    second = add_annotator(project).user
    first = project.cycles.get(number=0).entries.order_by("position").first().face
    vote(project, project.owner, first.pk, 0)
    vote(project, second, first.pk, 1)
    return project, first, second


def test_review_sets_the_final_label_and_undo_restores_it() -> None:
    project, face, _ = disputed_project()
    face.refresh_from_db()
    assert (face.label_index, face.top_vote_share) == (None, 0.5)
    spent = project.__class__.objects.get(pk=project.pk).votes_spent
    review = reviews.review_face(project, project.owner, face.pk, 2)
    face.refresh_from_db()
    assert (review.label_before, review.label_after, face.reviewed_label, face.final_label) == (None, 2, 2, 2)
    assert project.__class__.objects.get(pk=project.pk).votes_spent == spent  # no budget spent
    reviews.review_face(project, project.owner, face.pk, 1)
    undone = reviews.undo_last_review(project, project.owner)
    face.refresh_from_db()
    assert (undone.label_after, face.reviewed_label) == (1, 2)  # back to the first review
    reviews.undo_last_review(project, project.owner)
    face.refresh_from_db()
    assert face.reviewed_label is None
    with pytest.raises(NothingToUndo):
        reviews.undo_last_review(project, project.owner)


def test_review_of_another_projects_face_or_an_unknown_class_writes_nothing() -> None:
    project, face, _ = disputed_project()
    other, _, _ = disputed_project()
    with pytest.raises(InvalidInput, match="not in this project"):
        reviews.review_face(other, other.owner, face.pk, 1)
    with pytest.raises(InvalidInput, match="unknown class index"):
        reviews.review_face(project, project.owner, face.pk, len(CLASS_NAMES))
    assert Review.objects.count() == 0
    assert Face.objects.get(pk=face.pk).reviewed_label is None


def test_reviewed_label_overrides_votes_in_every_training_target() -> None:
    project, face, _ = disputed_project()
    reviews.review_face(project, project.owner, face.pk, 3)
    inputs = cycle_inputs(project)
    dataset = faces_to_dataset(inputs.class_names, inputs.rows)
    row = [r["id"] for r in inputs.rows].index(face.pk)
    assert dataset.labels[row] == 3 and dataset.splits[row] == "train"
    assert dataset.votes[row].tolist() == [0, 0, 0, 1]
    assert candidate_matrix(inputs.rows, 4)[row].tolist() == [False, False, False, True]
    distribution = soft_targets("vote_distribution", dataset, None)
    assert distribution[row].tolist() == [0.0, 0.0, 0.0, 1.0]
    crowd_like = np.full((len(dataset), 4), 0.25)  # a posterior that ignores the review
    assert pin_reviewed_targets(crowd_like, inputs.rows)[row].tolist() == [0.0, 0.0, 0.0, 1.0]
    unreviewed = [i for i in range(len(dataset)) if i != row]
    assert np.all(pin_reviewed_targets(crowd_like, inputs.rows)[unreviewed] == 0.25)


@pytest.mark.parametrize("format", ["csv", "jsonl"])
def test_export_shows_the_reviewed_label_and_reviewer(tmp_path: Path, format: str) -> None:
    project, face, _ = disputed_project()
    reviews.review_face(project, project.owner, face.pk, 1)
    path, _ = exports.write_export(project, "labels", format, None, tmp_path)
    rows = {row.file_name: row for row in LabelFile(path)}
    mine = rows[face.source_name or f"face-{face.pk}.png"]
    assert (mine.label, mine.reviewed_by, tuple(mine.votes)) == (1, project.owner.username, (1, 1, 0, 0))
    assert sum(1 for row in rows.values() if row.reviewed_by) == 1


def test_excluded_face_is_never_queued_trained_or_exported(tmp_path: Path) -> None:
    project = make_labeling_project(votes_per_face=1, budget_votes=40)
    entries = list(project.cycles.get(number=0).entries.order_by("position"))
    leased = assignment.next_faces(project, project.owner, count=1)
    excluded_id = leased[0].entry.face_id
    exclusions.exclude_face(project, project.owner, excluded_id, "not_a_face", "a cat")
    assert not project.leases.filter(entry__face_id=excluded_id).exists()  # its lease went back
    shown = {lease.entry.face_id for lease in assignment.next_faces(project, project.owner, count=5)}
    assert excluded_id not in shown and len(shown) == 5
    with pytest.raises(votes.FaceNotAvailable):
        vote(project, project.owner, excluded_id, 0)
    assert excluded_id not in [row["id"] for row in cycle_inputs(project).rows]
    _, summary = exports.write_export(project, "labels", "csv", None, tmp_path)
    assert (
        summary["rows"] == Face.objects.filter(project=project).count() - 1
    )  # every split, less the excluded
    assert len(entries) == 6


def test_excluding_the_last_open_face_completes_the_batch(django_capture_on_commit_callbacks) -> None:
    project = make_labeling_project(votes_per_face=1, budget_votes=40)
    entries = list(project.cycles.get(number=0).entries.order_by("position"))
    for entry in entries[:-1]:
        vote(project, project.owner, entry.face_id, 0)
    cycle = project.cycles.get(number=0)
    assert cycle.labeling_completed_at is None
    exclusions.exclude_face(project, project.owner, entries[-1].face_id, "corrupt")
    cycle.refresh_from_db()
    assert cycle.labeling_completed_at is not None
    assert project.jobs.filter(kind="train").count() == 1


def test_excluding_twice_is_refused_and_undo_brings_the_face_back() -> None:
    project = make_labeling_project(votes_per_face=1, budget_votes=40)
    face = Face.objects.filter(project=project, split="pool").first()
    exclusions.exclude_face(project, project.owner, face.pk, "duplicate")
    with pytest.raises(Conflict, match="already excluded"):
        exclusions.exclude_face(project, project.owner, face.pk, "duplicate")
    assert Exclusion.objects.filter(face=face).count() == 1
    with pytest.raises(InvalidInput, match="unknown reason"):
        exclusions.exclude_face(project, project.owner, face.pk, "ugly")
    restored = exclusions.include_face(project, project.owner, face.pk)
    assert restored.undone_by == project.owner and not Face.objects.get(pk=face.pk).excluded
    with pytest.raises(Conflict, match="not excluded"):
        exclusions.include_face(project, project.owner, face.pk)


def test_reviewers_at_once_are_handed_different_faces() -> None:
    project = make_labeling_project(votes_per_face=2, budget_votes=40)
    second = add_annotator(project).user
    for entry in project.cycles.get(number=0).entries.order_by("position")[:4]:
        vote(project, project.owner, entry.face_id, 0)
        vote(project, second, entry.face_id, 1)
    rita = Membership.objects.create(project=project, user=UserFactory(), role=Role.REVIEWER).user
    first = reviews.next_for_review(project, project.owner, count=2)
    other = reviews.next_for_review(project, rita, count=4)
    assert [c.reason for c in first] == ["disagreement", "disagreement"]
    assert {c.face.pk for c in first}.isdisjoint({c.face.pk for c in other})
    assert len(other) == 2  # only four disputed faces exist
    again = reviews.next_for_review(project, project.owner, count=2)
    assert [c.face.pk for c in again] == [c.face.pk for c in first]  # one's own holds come back


def test_voted_test_faces_are_reviewed_but_imported_test_labels_are_not() -> None:
    project = make_labeling_project(votes_per_face=2, budget_votes=40)
    imported = Face.objects.filter(project=project, split="test", imported_label__isnull=False).first()
    with pytest.raises(InvalidInput, match="imported"):
        reviews.review_face(project, project.owner, imported.pk, 1)
    voted_test = Face.objects.filter(project=project, split="pool").first()
    Face.objects.filter(pk=voted_test.pk).update(
        split="test", label_index=0, vote_count=2, class_votes=[1, 1, 0, 0]
    )
    reviews.review_face(project, project.owner, voted_test.pk, 1)
    inputs = cycle_inputs(project)
    dataset = faces_to_dataset(inputs.class_names, inputs.rows)
    row = [r["id"] for r in inputs.rows].index(voted_test.pk)
    assert (dataset.splits[row], dataset.labels[row]) == ("test", 1)
    imported_row = [r["id"] for r in inputs.rows].index(imported.pk)
    assert dataset.labels[imported_row] == imported.imported_label


def test_model_guesses_are_copied_onto_faces_and_unscored_faces_lose_theirs(tmp_path: Path) -> None:
    from annotator.services.predictions import store_predictions

    project = make_labeling_project(votes_per_face=1, budget_votes=40)
    pool = list(Face.objects.filter(project=project, split="pool").order_by("id"))
    Face.objects.filter(pk=pool[-1].pk).update(predicted_class=3, predicted_confidence=0.9)
    probabilities = np.full((2, 4), 0.1, dtype=np.float32)
    probabilities[0, 2], probabilities[1, 0] = 0.7, 0.7
    path = tmp_path / "pool.npz"
    np.savez(path, **{FACE_IDS_KEY: np.asarray([pool[0].pk, pool[1].pk])}, probabilities=probabilities)
    assert store_predictions(project, path) == 2
    guesses = dict(Face.objects.filter(project=project).values_list("id", "predicted_class"))
    assert (guesses[pool[0].pk], guesses[pool[1].pk], guesses[pool[-1].pk]) == (2, 0, None)
    assert Face.objects.get(pk=pool[0].pk).predicted_confidence == pytest.approx(0.7)
    assert store_predictions(project, tmp_path / "missing.npz") == 0


def test_continuous_labeling_skips_faces_excluded_after_the_model_ranked_them() -> None:
    from annotator.services.continuation import ranked_next
    from tests.annotator.factories import ModelVersionFactory

    project = make_labeling_project(pool=10, votes_per_face=1, budget_votes=40)
    unvoted = list(
        Face.objects.filter(project=project, split="pool", vote_count=0)
        .order_by("id")
        .values_list("id", flat=True)
    )
    model = ModelVersionFactory(
        project=project, version=1, ranking={FACE_IDS_KEY: unvoted[:4], "predicted_classes": [0, 1, 2, 3]}
    )
    exclusions.exclude_face(project, project.owner, unvoted[1], "corrupt")
    assert ranked_next(project, model, 3) == ([unvoted[0], unvoted[2], unvoted[3]], [0, 2, 3])


def test_recording_a_model_version_copies_its_guesses_after_the_commit(
    django_capture_on_commit_callbacks,
) -> None:
    from django.conf import settings

    from annotator.ml_bridge.cycles import CycleOutcome
    from annotator.models import JobKind
    from annotator.services import jobs
    from annotator.services.training import record_outcome

    project = make_labeling_project(votes_per_face=1, budget_votes=40)
    pool = list(Face.objects.filter(project=project, split="pool").order_by("id"))
    folder = Path(settings.MEDIA_ROOT) / "jobs-guesses"
    folder.mkdir(parents=True, exist_ok=True)
    probabilities = np.full((len(pool), 4), 0.1, dtype=np.float32)
    probabilities[:, 3] = 0.7
    np.savez(
        folder / "pool.npz",
        **{FACE_IDS_KEY: np.asarray([face.pk for face in pool])},
        probabilities=probabilities,
    )
    outcome = CycleOutcome(
        checkpoint_path=folder / "model.pt",
        predictions_path=folder / "pool.npz",
        labels_used=0,
        metrics={},
        training={},
    )
    job = jobs.create_job(project, JobKind.TRAIN, cycle=project.cycles.get(number=0))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        record_outcome(job, outcome)
    assert not Face.objects.filter(project=project, predicted_class__isnull=False).exists()  # not inside it
    for callback in callbacks:
        callback()
    assert set(
        Face.objects.filter(project=project, split="pool").values_list("predicted_class", flat=True)
    ) == {3}
