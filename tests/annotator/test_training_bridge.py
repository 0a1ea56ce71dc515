"""The training bridge: each project training mode trains on the right faces, never on test faces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from django.contrib.auth import get_user_model

from annotator.ml_bridge import FACE_IDS_KEY
from annotator.ml_bridge.cycle_inputs import CycleInputs
from annotator.ml_bridge.cycles import CycleOutcome, train_score_select
from annotator.ml_bridge.predictions import BALD_PASSES, read_predictions
from annotator.ml_bridge.pseudo_labels import pseudo_labels_to_offer
from annotator.models import Face
from annotator.services.cycle_inputs import cycle_inputs
from ml_engine.progress import ignore_progress, never_cancelled
from ml_engine.training import supervised
from tests.annotator.factories import cast_vote, make_labeling_project

pytestmark = pytest.mark.django_db


def answered_project(training_mode: str):
    """Cycle 0 (six faces) answered: four single labels and two unsure pairs; 2 labeled test faces."""
    project = make_labeling_project(training_mode=training_mode, model_name="small_cnn", image_size=16)
    entries = list(project.cycles.get(number=0).entries.order_by("position"))
    answers = [
        ("label", (0,)),
        ("label", (1,)),
        ("label", (2,)),
        ("label", (3,)),
        ("unsure", (0, 1)),
        ("unsure", (2, 3)),
    ]
    for entry, (kind, classes) in zip(entries, answers, strict=True):
        cast_vote(project, project.owner, entry.face_id, kind, classes)
    return project


def run_cycle(project, tmp_path: Path, epochs: int = 1) -> CycleOutcome:
    inputs = cycle_inputs(project, project.cycles.get(number=0))
    inputs = CycleInputs(**{**inputs.__dict__, "epochs": epochs, "next_batch_size": 2})
    return train_score_select(
        inputs, tmp_path, cycle_number=0, device="cpu", progress=ignore_progress, cancel=never_cancelled
    )


@pytest.mark.parametrize(
    "mode", ["supervised", "vote_distribution", "crowd_model", "partial_label", "semi_supervised"]
)
def test_every_training_mode_trains_scores_and_selects(mode: str, tmp_path: Path) -> None:
    project = answered_project(mode)
    outcome = run_cycle(project, tmp_path)

    assert outcome.training["mode"] == mode
    assert outcome.checkpoint_path.exists() and outcome.predictions_path.exists()
    assert outcome.labels_used == 4
    answered = set(Face.objects.filter(project=project, vote_count__gt=0).values_list("id", flat=True))
    assert len(outcome.next_face_ids) == 2
    assert not set(outcome.next_face_ids) & answered
    assert set(outcome.metrics) == {
        "accuracy",
        "macro_f1",
        "per_class_recall",
        "per_class_precision",
        "confusion",
    }


def test_supervised_training_never_sees_test_faces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = answered_project("supervised")
    seen = []
    real_fit = supervised.fit

    def spying_fit(config, train, *args, **kwargs):
        seen.append(train)
        return real_fit(config, train, *args, **kwargs)

    monkeypatch.setattr(supervised, "fit", spying_fit)
    run_cycle(project, tmp_path)

    (train,) = seen
    assert set(train.splits.tolist()) == {"train", "pool"}  # the two unsure faces have no majority
    test_ids = {
        str(pk) for pk in Face.objects.filter(project=project, split="test").values_list("id", flat=True)
    }
    assert not test_ids & set(train.names)
    assert sorted(train.labels.tolist()) == [-1, -1, 0, 1, 2, 3]


@pytest.mark.parametrize("mode", ["vote_distribution", "crowd_model"])
def test_soft_target_modes_train_on_every_voted_pool_face_with_its_votes(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = answered_project(mode)
    seen = []
    real_fit = supervised.fit

    def spying_fit(config, train, *args, **kwargs):
        seen.append((train, kwargs["targets"]))
        return real_fit(config, train, *args, **kwargs)

    monkeypatch.setattr(supervised, "fit", spying_fit)
    run_cycle(project, tmp_path)

    ((train, targets),) = seen
    voted = Face.objects.filter(project=project, split="pool", vote_count__gt=0)
    assert sorted(train.names) == sorted(str(pk) for pk in voted.values_list("id", flat=True))
    by_name = dict(zip(train.names, targets.tolist(), strict=True))
    for face in voted:  # the unsure pairs (no label) train on half of each class
        expected = np.asarray(face.class_votes) / sum(face.class_votes)
        np.testing.assert_allclose(by_name[str(face.pk)], expected)


def test_pool_scores_are_stored_in_one_file_per_model(tmp_path: Path) -> None:
    project = answered_project("supervised")
    outcome = run_cycle(project, tmp_path)

    stored = read_predictions(outcome.predictions_path)
    pool_ids = sorted(Face.objects.filter(project=project, split="pool").values_list("id", flat=True))
    assert stored[FACE_IDS_KEY].tolist() == pool_ids
    assert stored["probabilities"].shape == (len(pool_ids), 4)
    np.testing.assert_allclose(stored["probabilities"].sum(axis=1), 1.0, rtol=1e-5)
    # The scoring speed a comparison's estimate prices its forward passes at.
    assert outcome.training["scored_faces"] == len(pool_ids)
    assert set(outcome.training["seconds"]) == {"crowd", "train", "score", "select"}


@pytest.mark.parametrize(
    "strategy", ["entropy", "margin", "badge", "coreset", "bald", "glister", "deepfool", "random"]
)
def test_every_strategy_picks_unanswered_pool_faces(strategy: str, tmp_path: Path) -> None:
    project = answered_project("supervised")
    project.strategy = strategy
    project.save(update_fields=["strategy"])
    outcome = run_cycle(project, tmp_path)

    answered = set(Face.objects.filter(project=project, vote_count__gt=0).values_list("id", flat=True))
    pool = set(Face.objects.filter(project=project, split="pool").values_list("id", flat=True))
    assert len(outcome.next_face_ids) == len(set(outcome.next_face_ids)) == 2
    assert set(outcome.next_face_ids) <= pool - answered
    if strategy == "bald":
        stored = read_predictions(outcome.predictions_path)
        assert stored["mc_probabilities"].shape[0] == BALD_PASSES
        assert np.ptp(stored["mc_probabilities"], axis=0).max() > 0, "dropout must make the MC passes differ"


def test_semi_supervised_training_records_each_epochs_class_margins(tmp_path: Path) -> None:
    outcome = run_cycle(answered_project("semi_supervised"), tmp_path, epochs=2)

    margins = outcome.training["margins"]
    assert len(margins) == 2 and all(len(epoch) == 4 for epoch in margins)
    # T_c^t = max(T0, ...) with T0 = 0.8 (seed 002, Eq. 6): no margin falls below T0
    assert min(min(epoch) for epoch in margins) >= 0.8
    assert len(outcome.training["final_margins"]) == 4


def test_cycle_inputs_carry_each_single_class_vote_with_its_annotator() -> None:
    project = answered_project("supervised")
    inputs = cycle_inputs(project, project.cycles.get(number=0))

    assert inputs.votes.shape == (4, 3)  # the two unsure votes name no single class
    assert set(inputs.votes[:, 1]) == {project.owner_id}
    assert sorted(inputs.votes[:, 2]) == [0, 1, 2, 3]


def test_offers_are_the_unlabeled_faces_above_their_class_margin_most_confident_first() -> None:
    probabilities = np.array(
        [[0.95, 0.05], [0.10, 0.90], [0.50, 0.50], [0.02, 0.98], [0.99, 0.01]], dtype=np.float32
    )
    face_ids = np.array([10, 11, 12, 13, 14])
    # row 4 is excluded by the caller (labeled or queued); class 1's margin is 0.95
    offers = pseudo_labels_to_offer(probabilities, np.array([0, 1, 2, 3]), face_ids, [0.9, 0.95])

    assert [(o.face_id, o.class_index) for o in offers] == [(13, 1), (10, 0)]
    assert offers[0].confidence == pytest.approx(0.98) and offers[0].margin == pytest.approx(0.95)


def test_supervised_training_learns_tied_faces_from_their_vote_distribution(tmp_path: Path) -> None:
    """Two votes per face that always disagree: no majority anywhere, and still a model and a batch."""
    project = make_labeling_project(model_name="small_cnn", image_size=16, votes_per_face=2)
    annotator = get_user_model().objects.create_user("second", password="x")
    project.memberships.create(user=annotator, role="annotator")
    entries = list(project.cycles.get(number=0).entries.order_by("position"))
    for index, entry in enumerate(entries):
        for user, class_index in ((project.owner, index % 4), (annotator, (index + 1) % 4)):
            cast_vote(project, user, entry.face_id, "label", (class_index,))
    assert not Face.objects.filter(project=project, label_index__isnull=False).exists()

    outcome = run_cycle(project, tmp_path)

    assert outcome.training["tie_faces_on_vote_distribution"] == len(entries)
    assert outcome.checkpoint_path.exists()
    assert len(outcome.next_face_ids) == 2


def test_supervised_training_without_ties_keeps_the_hard_labels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_labeling_project(model_name="small_cnn", image_size=16)
    for entry in project.cycles.get(number=0).entries.order_by("position"):
        cast_vote(project, project.owner, entry.face_id, "label", (0,))
    seen_targets = []
    real_fit = supervised.fit

    def recording_fit(*args, targets=None, **kwargs):
        seen_targets.append(targets)
        return real_fit(*args, targets=targets, **kwargs)

    monkeypatch.setattr(supervised, "fit", recording_fit)

    outcome = run_cycle(project, tmp_path)

    assert seen_targets == [None]
    assert outcome.training["tie_faces_on_vote_distribution"] == 0


@pytest.mark.parametrize("mode", ["supervised", "partial_label", "semi_supervised"])
def test_a_model_version_stores_the_averaged_weights_after_the_step_floor(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings
) -> None:
    """Low-variance training in every mode: the checkpoint holds the EMA teacher's weights."""
    from ml_engine.checkpoint import read_checkpoint
    from ml_engine.training import semi_supervised

    settings.FACELOOP_MIN_TRAIN_STEPS = 7
    teachers = []

    def recording_teacher(student, decay):
        teachers.append((decay, real_teacher(student, decay)))
        return teachers[-1][1]

    module = semi_supervised if mode == "semi_supervised" else supervised
    real_teacher = module.ema_teacher
    monkeypatch.setattr(module, "ema_teacher", recording_teacher)
    outcome = run_cycle(answered_project(mode), tmp_path)

    ((decay, teacher),) = teachers
    assert decay == 0.999
    stored = read_checkpoint(outcome.checkpoint_path)["state_dict"]
    averaged = teacher.module.state_dict()
    assert stored.keys() == averaged.keys()
    assert all(torch.equal(stored[key], averaged[key].cpu()) for key in stored)
    if mode != "semi_supervised":  # one step per epoch over six faces: seven epochs
        assert outcome.training["epochs_run"] == 7 and outcome.training["steps"] == 7
