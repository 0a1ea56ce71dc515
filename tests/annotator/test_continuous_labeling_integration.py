"""Continuous labeling through the API with a real worker: after a batch completes the next faces come
in the same call while the model trains (before the first model, drawn at random), and the new model's
batch takes over when it is published."""

from __future__ import annotations

import uuid

import pytest

from annotator import assignment
from annotator.models import Cycle, Face, Job, JobKind, JobState, ModelVersion, Vote
from annotator.services import labeling_start
from tests.annotator.test_cycles_integration import (  # noqa: F401 - project and ssl_method are fixtures
    BATCH,
    label_current_batch,
    project,
    ssl_method,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def worker_env() -> dict[str, str]:
    return {"FACELOOP_TRAIN_EPOCHS": "30", "CELERY_VISIBILITY_TIMEOUT": "10"}


def test_labelers_go_on_while_the_model_trains_and_its_batch_takes_over(project, worker_process, client_for):  # noqa: F811
    project, truth = project
    project.budget_votes = 4 * BATCH
    project.save(update_fields=["budget_votes"])
    client = client_for(project.owner)
    url = f"/api/projects/{project.pk}/"
    labeling_start.start_labeling(project)
    label_current_batch(client, project, truth)
    at_once = assignment.current_cycle(project)  # no wait for the first model: faces drawn at random
    assert (at_once.number, at_once.selected_by, at_once.batch_size) == (1, None, BATCH)
    assert set(at_once.entries.values_list("chosen_by", flat=True)) <= {"random", "representative"}
    assert client.get(url + "progress/").json()["waiting"] is None
    wait_for(
        lambda: ModelVersion.objects.filter(project=project, version=1).exists(),
        180,
        "model v1",
        worker_process,
    )

    answered = 0
    cycle_one = assignment.current_cycle(project)
    assert cycle_one.pk == at_once.pk and cycle_one.selected_by.version == 1  # the first model took it over
    assert set(cycle_one.entries.values_list("chosen_by", flat=True)) == {"strategy"}
    while faces := client.post(url + "next-faces/", {"count": 1, "tab": "t1"}, format="json").json():
        face = Face.objects.get(pk=faces[0]["face"])
        if not cycle_one.entries.filter(face=face).exists():
            break  # the first face of the continuation, handed out in the same call
        vote = {
            "client_id": str(uuid.uuid4()),
            "face": face.pk,
            "kind": "label",
            "classes": [truth[face.source_name]],
            "tab": "t1",
        }
        assert client.post(url + "votes/", vote, format="json").status_code == 201
        answered += 1

    assert answered == BATCH
    continued = assignment.current_cycle(project)
    assert continued.number == 2 and continued.selected_by.version == 1
    assert faces[0]["face"] in continued.entries.values_list("face_id", flat=True)
    training = Job.objects.get(project=project, kind=JobKind.TRAIN, cycle__number=1)
    assert training.state in (JobState.QUEUED, JobState.RUNNING)
    progress = client.get(url + "progress/").json()
    assert progress["waiting"] is None
    assert progress["cycle"]["provisional"] is True
    first = Face.objects.get(pk=faces[0]["face"])
    vote = {
        "client_id": str(uuid.uuid4()),
        "face": first.pk,
        "kind": "label",
        "classes": [truth[first.source_name]],
    }
    assert client.post(url + "votes/", vote, format="json").status_code == 201

    wait_for(
        lambda: ModelVersion.objects.filter(project=project, version=2).exists(),
        180,
        "model v2",
        worker_process,
    )

    continued.refresh_from_db()
    assert continued.selected_by.version == 2
    assert continued.batch_size == BATCH
    entries = list(continued.entries.order_by("position").values_list("face_id", flat=True))
    assert entries[0] == first.pk  # answered during training: kept, never asked again
    assert Vote.objects.filter(face=first, retracted_at__isnull=True).count() == 1
    assert not set(entries[1:]) & set(Face.objects.filter(vote_count__gt=0).values_list("id", flat=True))
    assert Cycle.objects.get(project=project, number=1).state == "done"
    assert client.get(url + "progress/").json()["cycle"]["provisional"] is False
