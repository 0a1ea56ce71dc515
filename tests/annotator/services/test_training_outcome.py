"""Recording a training outcome: the crowd model, Ada-CM margins and pseudo-label offers reach the dashboard."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from annotator.ml_bridge.cycles import CycleOutcome
from annotator.ml_bridge.pseudo_labels import ConfirmablePseudoLabel
from annotator.models import Face, JobKind, OfferState, PseudoLabelOffer, Split
from annotator.services import jobs
from annotator.services.training import record_outcome
from tests.annotator.factories import add_annotator, make_labeling_project

pytestmark = pytest.mark.django_db


def outcome_for(project, crowd, offers, margins) -> CycleOutcome:
    folder = Path(settings.MEDIA_ROOT) / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    return CycleOutcome(
        checkpoint_path=folder / "model.pt",
        predictions_path=folder / "pool.npz",
        labels_used=6,
        metrics={"accuracy": 0.5},
        training={"mode": "semi_supervised", "margins": margins, "final_margins": margins[-1]},
        crowd=crowd,
        pseudo_labels=offers,
    )


def test_the_dashboard_shows_reliability_margins_and_offers_recorded_by_training(client_for) -> None:
    project = make_labeling_project(training_mode="semi_supervised", offer_confirmations=True)
    careful, careless = add_annotator(project).user, add_annotator(project).user
    pool = list(Face.objects.filter(project=project, split=Split.POOL).order_by("id"))
    crowd = {
        "shared_faces": 40,
        "iterations": 12,
        "annotators": [
            {"annotator_id": careful.pk, "votes": 40, "reliability": 0.93, "top_confusion": None},
            {
                "annotator_id": careless.pk,
                "votes": 40,
                "reliability": 0.55,
                "top_confusion": {"true": "surprise", "answered": "happiness", "rate": 0.6},
            },
        ],
    }
    offers = [
        ConfirmablePseudoLabel(face_id=pool[0].pk, class_index=1, confidence=0.97, margin=0.9),
        ConfirmablePseudoLabel(face_id=pool[1].pk, class_index=0, confidence=0.91, margin=0.85),
    ]
    margins = [[0.8, 0.8, 0.8, 0.8], [0.85, 0.9, 0.8, 0.82]]
    job = jobs.create_job(project, JobKind.TRAIN, cycle=project.cycles.get(number=0))

    version = record_outcome(job, outcome_for(project, crowd, offers, margins))

    job.refresh_from_db()
    assert version.crowd == crowd
    assert job.result["offers"] == 2 and job.result["margins"] == margins
    assert list(PseudoLabelOffer.objects.values_list("face_id", "class_index", "state")) == [
        (pool[0].pk, 1, OfferState.OFFERED),
        (pool[1].pk, 0, OfferState.OFFERED),
    ]
    dashboard = client_for(project.owner).get(f"/api/projects/{project.pk}/dashboard/").json()
    reliability = dashboard["reliability"]
    assert [(a["annotator"], a["reliability"]) for a in reliability["annotators"]] == [
        (careless.username, 0.55),
        (careful.username, 0.93),
    ]
    assert reliability["version"] == version.version and reliability["shared_faces"] == 40
    assert dashboard["margins"]["margins"] == margins
    assert [name for name, _ in dashboard["margins"]["classes"]] == [
        "neutral",
        "happiness",
        "surprise",
        "sadness",
    ]
    assert dashboard["confirmations"] == {
        "enabled": True,
        "offered": 2,
        "confirmed": 0,
        "rejected": 0,
        "withdrawn": 0,
        "annotators": [],
    }


def test_a_new_model_version_withdraws_the_previous_offers(client_for) -> None:
    project = make_labeling_project(training_mode="semi_supervised", offer_confirmations=True)
    first, second = list(Face.objects.filter(project=project, split=Split.POOL).order_by("id"))[:2]
    cycle = project.cycles.get(number=0)
    margins = [[0.8] * 4]
    offer = ConfirmablePseudoLabel(face_id=first.pk, class_index=1, confidence=0.97, margin=0.9)
    record_outcome(
        jobs.create_job(project, JobKind.TRAIN, cycle=cycle), outcome_for(project, {}, [offer], margins)
    )
    newer = ConfirmablePseudoLabel(face_id=second.pk, class_index=2, confidence=0.99, margin=0.9)
    outcome = outcome_for(project, {}, [newer], margins)
    outcome.checkpoint_path = outcome.checkpoint_path.with_name("model2.pt")
    record_outcome(jobs.create_job(project, JobKind.TRAIN, cycle=cycle), outcome)

    states = dict(PseudoLabelOffer.objects.values_list("face_id", "state"))
    assert states == {first.pk: OfferState.WITHDRAWN, second.pk: OfferState.OFFERED}
    assert (
        client_for(project.owner).get(f"/api/projects/{project.pk}/dashboard/").json()["reliability"] is None
    )
