"""Strategy comparisons: the request's checks, the job run in-process, the sentence, adopting a strategy."""

from __future__ import annotations

import numpy as np
import pytest

from annotator.ml_bridge import comparisons as comparison_bridge
from annotator.models import Face, Job, JobKind, JobState, Split
from annotator.services import comparisons
from ml_engine.simulation.results import StrategySummary, read_records
from ml_engine.strategies import BALANCED_SUFFIX
from tests.annotator.factories import add_annotator, make_labeling_project

pytestmark = pytest.mark.django_db


def labeled_project(pool: int = 60, **settings):
    project = make_labeling_project(pool=pool, test=6, **settings)
    for index, face in enumerate(Face.objects.filter(project=project, split=Split.POOL).order_by("id")):
        face.label_index = index % 4
        face.save(update_fields=["label_index"])
    return project


def _summary(name, accuracy):
    accuracy = np.asarray(accuracy)
    return StrategySummary(name, np.array([10, 20, 30]), accuracy, accuracy / 2, None)


def test_a_strategy_that_saves_labels_on_every_seed_is_named_with_its_saving():
    random = _summary("random", [[0.5, 0.6, 0.7], [0.5, 0.62, 0.72]])
    # Seed 0 reaches random's 0.70 at 20 labels, seed 1 its 0.72 at 20: saving 1 - 20/30 = 1/3 each.
    least = _summary("least_confidence", [[0.5, 0.7, 0.8], [0.55, 0.72, 0.8]])
    result = comparison_bridge.summary([random, least], labeled=60, seeds=2)
    assert result["best"] == "least_confidence"
    assert [curve["saving"] for curve in result["curves"]] == pytest.approx([0.0, 1 / 3])
    assert result["sentence"] == (
        "On your 60 labeled faces, Least Confidence reached random's final accuracy with 33% fewer labels "
        "(2 seeds; spread ±0)."
    )


def test_a_saving_within_the_spread_is_no_win():
    random = _summary("random", [[0.5, 0.6, 0.7], [0.5, 0.62, 0.72]])
    # Seed 0 saves 1/3, seed 1 never reaches 0.72 (saves 0): mean 1/6 < std 0.236.
    least = _summary("least_confidence", [[0.5, 0.7, 0.8], [0.5, 0.6, 0.71]])
    result = comparison_bridge.summary([random, least], labeled=60, seeds=2)
    assert result["best"] is None
    assert result["curves"][1]["saving_spread"] == pytest.approx(np.std([1 / 3, 0.0], ddof=1))
    assert (
        result["sentence"] == "On your 60 labeled faces, no strategy beat random beyond the spread (2 seeds)."
    )


def test_random_reaching_its_final_accuracy_early_leaves_nothing_to_save():
    # Random's last point (0.55) is below its first (0.6): it already had that accuracy at 10
    # labels, and so had the strategy (same initial set): saving 1 - 10/10 = 0, not 1 - 10/30.
    random = _summary("random", [[0.6, 0.5, 0.55]])
    least = _summary("least_confidence", [[0.6, 0.7, 0.8]])
    result = comparison_bridge.summary([random, least], labeled=60, seeds=1)
    assert [curve["saving"] for curve in result["curves"]] == [0.0, 0.0]
    assert (
        result["sentence"] == "On your 60 labeled faces, no strategy beat random beyond the spread (1 seed)."
    )


def test_the_request_checks_strategies_labels_and_one_at_a_time(client_for):
    project = labeled_project()
    owner = client_for(project.owner)
    url = f"/api/projects/{project.pk}/comparisons/"
    assert owner.post(url, {"strategies": ["nope"]}, format="json").status_code == 400
    assert owner.post(url, {"strategies": ["margin"], "seeds": 9}, format="json").status_code == 400
    annotator = client_for(add_annotator(project).user)
    assert annotator.post(url, {"strategies": ["margin"]}, format="json").status_code == 403
    response = owner.post(url, {"strategies": ["least_confidence"], "class_balanced": True}, format="json")
    assert response.status_code == 201, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert (job.kind, job.state) == (JobKind.COMPARE, JobState.QUEUED)
    assert job.result["request"] == {
        "strategies": ["random", "least_confidence", "least_confidence+balanced"],
        "seeds": [0, 1, 2],
        "labeled_faces": 60,
    }
    again = owner.post(url, {"strategies": ["margin"]}, format="json")
    assert again.status_code == 409 and "already queued or running" in again.json()["detail"]
    assert annotator.get(url).json() == {"comparison": None}


def test_too_few_labeled_faces_are_refused(client_for):
    project = labeled_project(pool=40)
    response = client_for(project.owner).post(
        f"/api/projects/{project.pk}/comparisons/", {"strategies": ["margin"]}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["detail"] == "40 labeled faces: a comparison needs at least 50"
    assert not Job.objects.filter(kind=JobKind.COMPARE).exists()


def test_the_job_runs_the_oracle_loop_and_the_dashboard_keeps_its_result(client_for, settings):
    project = labeled_project()
    job = comparisons.request_comparison(project, ["least_confidence"], seeds=1)
    assert comparisons.run_comparison_job(job.pk) == JobState.SUCCEEDED
    job.refresh_from_db()
    result = job.result
    assert (result["labeled_faces"], result["test_faces"], result["model"], result["image_size"]) == (
        60,
        6,
        "small_cnn",
        32,
    )
    assert (result["initial"], result["budget"], result["cycles"], result["seeds"]) == (6, 30, 5, [0])
    assert [curve["strategy"] for curve in result["curves"]] == ["random", "least_confidence"]
    assert result["curves"][0]["labels"] == [6, 12, 18, 24, 30]
    stored = read_records(comparisons.comparison_dir(job) / "results.csv")
    by_strategy = {
        name: [r.accuracy for r in stored if r.strategy == name] for name in ("random", "least_confidence")
    }
    assert [curve["accuracy"][0] for curve in result["curves"]] == list(by_strategy.values())
    assert job.message == result["sentence"] and result["sentence"].startswith("On your 60 labeled faces, ")
    shown = client_for(project.owner).get(f"/api/projects/{project.pk}/dashboard/").json()["comparison"]
    assert shown["job"] == job.pk and shown["curves"] == result["curves"]


def test_adopting_a_balanced_strategy_sets_both_settings(client_for):
    project = labeled_project()
    owner = client_for(project.owner)
    url = f"/api/projects/{project.pk}/comparisons/adopt/"
    response = owner.post(url, {"strategy": "badge+balanced"}, format="json")
    assert response.status_code == 200 and (
        response.json()["strategy"],
        response.json()["class_balanced"],
    ) == (
        "badge",
        True,
    )
    assert owner.post(url, {"strategy": "margin"}, format="json").json()["class_balanced"] is False
    assert owner.post(url, {"strategy": "nope+balanced"}, format="json").status_code == 400
    assert comparison_bridge.BALANCED_SUFFIX == BALANCED_SUFFIX
