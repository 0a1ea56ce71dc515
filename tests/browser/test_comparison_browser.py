"""Compare strategies on my labels, end to end: a real worker runs the comparison, its curves equal
what ``simulate`` writes for the same faces and seeds, and Chromium shows the curves and the sentence.
Then the dashboard at 8 classes and 20 model versions, photographed to check that it stays readable."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from django.utils import timezone

from annotator import ml_bridge
from annotator.models import Face, Job, JobKind, JobState, ModelVersion, Split
from annotator.services import imports, projects
from ml_engine.simulation.comparison import simulate
from ml_engine.simulation.oracle_loop import LoopSettings
from ml_engine.simulation.results import read_records
from ml_engine.training import LOW_VARIANCE, TrainConfig
from tests.annotator.factories import UserFactory, make_project
from tests.browser.conftest import BROWSER_TEST_MARKS, log_in, wait_for

pytestmark = BROWSER_TEST_MARKS

LABELED, TEST = 300, 60


@pytest.fixture
def worker_env() -> dict[str, str]:
    # One thread, as this test process runs: the same float reductions, so the same curves.
    return {"OMP_NUM_THREADS": "1"}


def labeled_project(owner):
    faces = ml_bridge.synthetic_faces(LABELED + TEST, seed=11, image_size=32)
    project = projects.create_project(
        owner,
        name="compare",
        classes=projects.default_class_specs(faces.class_names),
        budget_votes=600,
        batch_size=30,
        initial_set_size=30,
        strategy="random",
        ssl_method="none",
        initial_selection="random",
        model_name="small_cnn",
        image_size=32,
    )
    imports.import_dataset(project, faces.subset(np.arange(LABELED)), split="pool")
    imports.import_dataset(project, faces.subset(np.arange(LABELED, LABELED + TEST)), split="test")
    index = {name: i for i, name in enumerate(faces.names)}
    for face in Face.objects.filter(project=project, split=Split.POOL):  # the aggregated labels
        face.label_index = int(faces.labels[index[face.source_name]])
        face.save(update_fields=["label_index"])
    order = [
        [
            index[name]
            for name in Face.objects.filter(project=project, split=split)
            .order_by("id")
            .values_list("source_name", flat=True)
        ]
        for split in (Split.POOL, Split.TEST)
    ]
    return project, faces.subset(np.asarray(order[0])), faces.subset(np.asarray(order[1]))


def test_the_comparison_runs_on_a_worker_equals_simulate_and_shows(
    live_server, browser_page, worker_process, tmp_path
):
    owner = UserFactory()
    project, pool, test = labeled_project(owner)
    page = browser_page
    log_in(page, live_server, owner.username, f"/projects/{project.pk}/dashboard/")
    page.wait_for_selector("#comparison-strategies input[value=least_confidence]:checked")
    # Before asking, the form says what "auto" would replay and how long the project's model takes.
    page.wait_for_selector(
        "#comparison-plan:has-text('Replays your model: Small CNN (tests and smoke runs) at 32 px')"
    )
    assert "for 6 runs (a default of 200 images/s" in page.inner_text("#comparison-plan")
    page.fill("#comparison-seeds", "2")
    page.select_option("#comparison-model", "proxy")
    page.wait_for_selector(
        "#comparison-plan:has-text('Replays a stand-in, a small CNN at 32 px from scratch, as you chose')"
    )
    assert "for 4 runs" in page.inner_text("#comparison-plan")
    page.click("#compare")
    page.wait_for_selector(
        "#comparison-status:has-text('queued: random, least_confidence on 300 labeled faces, replaying the small-CNN stand-in')"
    )
    job = Job.objects.get(project=project, kind=JobKind.COMPARE)
    wait_for(lambda: Job.objects.get(pk=job.pk).state not in (JobState.QUEUED, JobState.RUNNING), timeout=600)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, job.message
    result = job.result
    assert (result["labeled_faces"], result["test_faces"], result["seeds"]) == (LABELED, TEST, [0, 1])
    assert (result["model"], result["image_size"], result["initial"], result["budget"], result["cycles"]) == (
        "small_cnn",
        32,
        30,
        150,
        5,
    )

    assert (result["epochs"], result["batch_size"], result["lr"], result["augment"]) == (20, 16, 0.05, False)
    # The app's low-variance training; the tests' worker runs without the step floor.
    assert (result["ema_decay"], result["validation_share"], result["min_steps"]) == (0.999, 0.0, 0)
    train = TrainConfig(
        model="small_cnn",
        image_size=32,
        epochs=20,
        batch_size=16,
        lr=0.05,
        augment=False,
        **(LOW_VARIANCE | {"min_steps": 0}),
    )
    settings = LoopSettings(initial_size=30, cycles=5, budget=150, train=train, device="cpu")
    simulate(
        pool,
        test,
        ["random", "least_confidence"],
        [0, 1],
        settings,
        tmp_path / "simulate",
        log=lambda _: None,
    )
    written = read_records(tmp_path / "simulate" / "results.csv")
    for curve in result["curves"]:
        runs = [[r for r in written if r.strategy == curve["strategy"] and r.seed == seed] for seed in (0, 1)]
        assert curve["labels"] == [r.labels for r in runs[0]] == [30, 60, 90, 120, 150]
        assert curve["accuracy"] == [[r.accuracy for r in run] for run in runs]
        assert curve["macro_f1"] == [[r.macro_f1 for r in run] for run in runs]

    page.wait_for_function(
        "sentence => document.getElementById('comparison-sentence').textContent === sentence",
        arg=result["sentence"],
        timeout=30_000,
    )
    assert result["sentence"].startswith("On your 300 labeled faces, ")
    assert page.locator("#comparison-plot polyline").count() == 2
    assert page.locator("#comparison-plot polygon").count() == 2  # the seeds' spread
    assert (
        "Run on 300 labeled faces (test: 60) · a stand-in, not your model: small_cnn at 32 px, 20 epochs, from scratch"
        in page.inner_text("#comparison-sizes")
    )
    page.locator("#comparison-card").screenshot(path="/tmp/faceloop-comparison-on-a-worker.png")
    page.select_option("#adopt-strategy", "least_confidence")
    page.click("#adopt")
    page.wait_for_selector("#comparison-status:has-text('now selects with least_confidence')")
    project.refresh_from_db()
    assert project.strategy == "least_confidence"


FERPLUS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")


def test_the_dashboard_stays_readable_at_8_classes_and_20_model_versions(live_server, browser_page):
    project = make_project(classes=FERPLUS)
    rng = np.random.default_rng(0)
    for version in range(1, 21):
        confusion = rng.integers(0, 6, (8, 8)) + np.diag(rng.integers(5, 30, 8))
        confusion[:, 7] = 0  # contempt is never predicted
        confusion[7, 7] = 0
        recall = (np.diag(confusion) / confusion.sum(axis=1)).tolist()
        predicted = confusion.sum(axis=0)
        precision = [float(confusion[c, c] / predicted[c]) if predicted[c] else None for c in range(8)]
        accuracy = 0.3 + 0.02 * version
        ModelVersion.objects.create(
            project=project,
            version=version,
            labels_used=100 * version,
            metrics={
                "accuracy": accuracy,
                "macro_f1": accuracy - 0.15,
                "confusion": confusion.tolist(),
                "per_class_recall": recall,
                "per_class_precision": precision,
            },
        )
    labels = [40, 30, 25, 22, 20, 8, 12, 3]
    pool = [
        Face(project=project, split=Split.POOL, label_index=c, sha256=f"{c}-{i}")
        for c, n in enumerate(labels)
        for i in range(n)
    ]
    test = [
        Face(project=project, split=Split.TEST, imported_label=i % 8, sha256=f"test-{i}") for i in range(80)
    ]
    Face.objects.bulk_create(pool + test)
    curves = [
        {
            "strategy": name,
            "title": title,
            "labels": [16, 32, 48, 64, 80],
            "accuracy": [[0.3 + shift + 0.05 * k + 0.01 * seed for k in range(5)] for seed in range(3)],
            "macro_f1": [[0.2] * 5] * 3,
            "saving": 0.0,
            "saving_spread": 0.0,
        }
        for name, title, shift in [
            ("random", "Random Sampling", 0.0),
            ("least_confidence", "Least Confidence", 0.03),
            ("least_confidence+balanced", "Least Confidence (class-balanced)", 0.02),
            ("badge", "BADGE", 0.01),
        ]
    ]
    result = {
        "labeled_faces": 160,
        "test_faces": 80,
        "model": "small_cnn",
        "image_size": 32,
        "epochs": 20,
        "batch_size": 32,
        "device": "cpu",
        "initial": 16,
        "cycles": 5,
        "budget": 80,
        "seeds": [0, 1, 2],
        "curves": curves,
        "best": None,
        "sentence": "On your 160 labeled faces, no strategy beat random beyond the spread (3 seeds).",
    }
    Job.objects.create(
        project=project,
        kind=JobKind.COMPARE,
        state=JobState.SUCCEEDED,
        result=result,
        finished_at=timezone.now() - dt.timedelta(minutes=5),
    )
    page = browser_page
    log_in(page, live_server, project.owner.username, f"/projects/{project.pk}/dashboard/")
    page.wait_for_selector("#comparison-sentence:has-text('no strategy beat random beyond the spread')")
    assert page.locator("#curve-plot circle").count() == 40  # accuracy and macro-F1 of 20 versions
    assert page.locator("#confusion-plot rect").count() == 64
    warnings = page.inner_text("#class-warnings")
    assert "contempt: never predicted on the test split by model v20" in warnings
    assert "disgust: 8 labeled faces, fewer than 20" in warnings and "neutral" not in warnings
    assert page.locator("#class-quality tbody tr").count() == 8
    page.set_viewport_size({"width": 1280, "height": 2400})
    page.screenshot(path="/tmp/faceloop-dashboard-8-classes-20-versions.png", full_page=True)
    page.click("#confusion-mode")
    page.wait_for_selector("#confusion-mode:has-text('Show counts')")
    assert "% of each row" in page.inner_text("#confusion-plot")
    page.locator("#confusion-plot").screenshot(path="/tmp/faceloop-confusion-rates.png")
