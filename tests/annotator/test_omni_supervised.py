"""Auxiliary faces (a split never queued, never labeled, never paid for) and omni-supervised training.

Liu et al., "Omni-supervised Facial Expression Recognition via Distilled Data" (Sec. 3.3): the
current model pseudo-labels auxiliary faces by cosine to the class centroids; the kept ones
train with their pseudo-label, and the model version records δ and the count per class.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from PIL import Image

from annotator.ml_bridge import FACE_IDS_KEY
from annotator.ml_bridge.cycle_inputs import CycleInputs
from annotator.ml_bridge.cycles import train_score_select
from annotator.ml_bridge.predictions import read_predictions
from annotator.models import Face, ModelVersion, Project, Split
from annotator.services import cycles, labeling_start
from annotator.services.errors import InvalidInput
from annotator.services.jobs import stored_name
from ml_engine.training import supervised
from tests.annotator.factories import FaceFactory, UserFactory, cast_vote, face_pixels, make_project
from tests.annotator.test_training_bridge import answered_project, run_cycle

pytestmark = pytest.mark.django_db

NEW_PROJECT = {
    "name": "Expressions",
    "budget_votes": 500,
    "classes": [{"name": "neutral"}, {"name": "happiness"}],
}


def add_auxiliary(project: Project, count: int) -> set[int]:
    return {FaceFactory(project=project, split=Split.AUXILIARY).pk for _ in range(count)}


def test_auxiliary_faces_never_enter_the_initial_set():
    project = make_project(initial_set_size=6)
    pool = {FaceFactory(project=project).pk for _ in range(3)}
    add_auxiliary(project, 12)
    cycle = labeling_start.start_labeling(project)
    assert set(cycle.entries.values_list("face_id", flat=True)) == pool


def test_a_vote_on_an_auxiliary_face_is_refused_and_costs_nothing():
    project = make_project()
    FaceFactory(project=project)
    labeling_start.start_labeling(project)
    (auxiliary,) = add_auxiliary(project, 1)
    with pytest.raises(InvalidInput, match="auxiliary faces never are"):
        cast_vote(project, project.owner, auxiliary, "label", (0,))
    project.refresh_from_db()
    assert project.votes_spent == 0
    assert not Face.objects.get(pk=auxiliary).votes.exists()


def test_auxiliary_faces_are_never_scored_for_nor_picked_into_the_next_batch(tmp_path: Path):
    project = answered_project("supervised")
    auxiliary = add_auxiliary(project, 8)
    inputs = CycleInputs(
        **{**run_inputs(project).__dict__, "epochs": 1, "next_batch_size": 50}  # more than the pool holds
    )
    outcome = train_score_select(
        inputs, tmp_path, cycle_number=0, device="cpu", progress=lambda _: None, cancel=lambda: False
    )
    assert outcome.next_face_ids and not set(outcome.next_face_ids) & auxiliary
    stored = read_predictions(outcome.predictions_path)
    assert not set(stored[FACE_IDS_KEY].tolist()) & auxiliary


def run_inputs(project: Project) -> CycleInputs:
    from annotator.services.cycle_inputs import cycle_inputs

    return cycle_inputs(project, project.cycles.get(number=0))


def test_import_command_puts_every_face_in_the_auxiliary_split(tmp_path: Path):
    project = make_project()
    folder = tmp_path / "faces"
    folder.mkdir()
    for seed in range(3):
        Image.fromarray(face_pixels(seed, 24)).save(folder / f"face{seed}.png")
    call_command("import_faces", project.pk, str(folder), "--split", "auxiliary", stdout=io.StringIO())
    assert list(Face.objects.filter(project=project).values_list("split", flat=True)) == ["auxiliary"] * 3
    assert cycles.choose_initial_set(project) == []


def test_the_import_api_accepts_the_auxiliary_split(client_for):
    project = make_project()
    buffer = io.BytesIO()
    Image.fromarray(face_pixels(1, 24)).save(buffer, "PNG")
    buffer.name = "face.png"
    buffer.seek(0)
    response = client_for(project.owner).post(
        f"/api/projects/{project.pk}/imports/", {"files": [buffer], "split": "auxiliary"}, format="multipart"
    )
    assert (response.status_code, response.json()["kind"]) == (201, "import"), response.content
    assert list(Face.objects.filter(project=project).values_list("split", flat=True)) == ["auxiliary"]


def test_the_delta_setting_round_trips_and_is_refused_where_labels_are_soft(client_for):
    owner = client_for(UserFactory())
    created = owner.post("/api/projects/", NEW_PROJECT, format="json")
    assert created.status_code == 201 and created.json()["omni_supervised_delta"] is None
    url = f"/api/projects/{created.json()['id']}/"
    assert owner.patch(url, {"omni_supervised_delta": 0.05}, format="json").status_code == 200
    assert Project.objects.get().omni_supervised_delta == 0.05
    assert owner.patch(url, {"omni_supervised_delta": 3.0}, format="json").status_code == 400
    refused = owner.patch(url, {"training_mode": "partial_label"}, format="json")
    assert refused.status_code == 400 and "supervised and semi_supervised" in refused.content.decode()
    assert Project.objects.get().training_mode == "supervised"


def test_the_bridge_trains_the_kept_faces_with_their_pseudo_labels(tmp_path: Path, monkeypatch, media_root):
    project = answered_project("supervised")
    auxiliary = add_auxiliary(project, 6)
    first = run_cycle(project, media_root / "first")  # the current model: labeled faces only
    ModelVersion.objects.create(project=project, version=1, checkpoint=stored_name(first.checkpoint_path))
    Project.objects.filter(pk=project.pk).update(omni_supervised_delta=0.0)
    project.refresh_from_db()
    seen = []
    real_fit = supervised.fit

    def spying_fit(config, train, *args, **kwargs):
        seen.append((train, kwargs.get("targets")))
        return real_fit(config, train, *args, **kwargs)

    monkeypatch.setattr(supervised, "fit", spying_fit)
    outcome = run_cycle(project, tmp_path)

    ((train, targets),) = seen
    record = outcome.omni_supervision
    labeled = {
        str(pk)
        for pk in Face.objects.filter(project=project, label_index__isnull=False).values_list("id", flat=True)
    }
    unvoted_pool = {
        str(pk)
        for pk in Face.objects.filter(project=project, split="pool", vote_count=0).values_list(
            "id", flat=True
        )
    }
    hard = (
        train.names
        if targets is None
        else [n for n, row in zip(train.names, targets, strict=True) if row.max() == 1.0]
    )
    kept = set(hard) - labeled
    assert record["delta"] == 0.0 and record["candidates"] == len(auxiliary) + len(unvoted_pool)
    assert record["kept"] == len(kept) == sum(record["per_class"]) > 0
    assert kept <= {str(pk) for pk in auxiliary} | unvoted_pool
    assert record["from_auxiliary"] == len(kept & {str(pk) for pk in auxiliary})
    test_ids = {
        str(pk) for pk in Face.objects.filter(project=project, split="test").values_list("id", flat=True)
    }
    assert not test_ids & set(train.names)
    assert outcome.labels_used == 4  # pseudo-labels are not labels bought with the budget
    assert not Face.objects.filter(pk__in=[int(name) for name in kept], label_index__isnull=False).exists()


def test_a_model_version_records_the_selection_and_the_dashboard_shows_it(client_for):
    project = make_project()
    record = {
        "delta": 0.05,
        "rule": "margin",
        "candidates": 9,
        "kept": 3,
        "per_class": [1, 2, 0, 0],
        "from_auxiliary": 2,
    }
    ModelVersion.objects.create(project=project, version=1, omni_supervision=record)
    ModelVersion.objects.create(project=project, version=2)
    FaceFactory(project=project, split=Split.AUXILIARY)
    dashboard = client_for(project.owner).get(f"/api/projects/{project.pk}/dashboard/").json()
    assert dashboard["omni_supervision"] == [{"version": 1, **record}]
    assert dashboard["auxiliary_size"] == 1


def test_the_first_model_has_nothing_to_select_with(tmp_path: Path):
    project = answered_project("supervised")
    add_auxiliary(project, 2)
    Project.objects.filter(pk=project.pk).update(omni_supervised_delta=0.1)
    project.refresh_from_db()
    outcome = run_cycle(project, tmp_path)
    assert outcome.omni_supervision["kept"] == 0 and "no model yet" in outcome.omni_supervision["skipped"]
    assert np.array_equal(outcome.omni_supervision["per_class"], [0, 0, 0, 0])
