"""The measured defaults in Chromium: a new project's form starts from them and says the figure
behind each; the import page says what starting labeling sets off, and how long pre-training takes."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from annotator.ml_bridge.pretraining import SCHEDULE_KEY
from annotator.models import Job, JobKind, JobState, Project
from tests.annotator.factories import FaceFactory, UserFactory, make_project
from tests.browser.conftest import BROWSER_TEST_MARKS, SCREENSHOTS, log_in

pytestmark = BROWSER_TEST_MARKS

MEASURED = {
    "strategy": ("least_confidence", "Least confidence"),
    "training_mode": ("supervised", "Supervised fine-tuning"),
    "ssl_method": ("simclr", "SimCLR"),
    "initial_selection": ("typiclust", "Representative: TypiClust"),
}


def test_a_new_project_starts_from_the_measured_defaults_and_says_how_long_pre_training_takes(
    live_server, browser_page, settings
):
    settings.FACELOOP_PRETRAIN_EPOCHS, settings.FACELOOP_PRETRAIN_MIN_STEPS = 20, 1000
    settings.FACELOOP_FIRST_BATCH_STEPS = 100
    UserFactory(username="olga")
    page = browser_page
    log_in(page, live_server, "olga", "/projects/new/")
    page.wait_for_selector("[data-preset] >> nth=0")

    for field, (value, label) in MEASURED.items():
        assert page.input_value(f"#{field}") == value
        note = page.text_content(f"#{field}-measured")
        assert note.startswith(
            f"Measured default: {label} — with the other measured defaults, 66.89% vs 60.40%"
        )
    assert page.is_checked("#warm_start")
    assert page.text_content("#warm_start-measured").startswith("Measured default: on — ")
    assert page.locator("#batch_size-measured").count() == 0
    page.wait_for_selector("#budget-plan-pretraining:has-text('known once the pool')")
    page.fill("#name", "Defaults")
    page.click("#create")
    page.wait_for_url("**/import/")
    project = Project.objects.get(name="Defaults")
    assert (project.strategy, project.ssl_method, project.initial_selection, project.warm_start) == (
        "least_confidence",
        "simclr",
        "typiclust",
        True,
    )
    page.wait_for_selector("#pretraining-estimate:has-text('known once the pool')")

    FaceFactory.create_batch(24, project=project)  # 2 go to the test sample: 22 faces, 1 step an epoch
    start = timezone.now() - timedelta(hours=1)
    Job.objects.create(  # another project's pre-training: 100 steps of 256 faces in 128 s, 200 faces/s
        project=make_project(),
        kind=JobKind.PRETRAIN,
        state=JobState.SUCCEEDED,
        started_at=start,
        finished_at=start + timedelta(seconds=128),
        result={SCHEDULE_KEY: {"faces": 5_000, "batch_size": 256, "epochs": 1, "steps": 100}},
    )
    page.reload()
    page.wait_for_selector("#pretraining-estimate:has-text('about 2 min')")
    assert page.text_content("#pretraining-estimate") == (
        "Pre-training (SimCLR) runs 1000 epochs over 22 pool faces (1000 optimiser steps): about 2 min "
        "(measured on this machine: 200 faces/s over its last 1 pre-training). The first batch is picked "
        "on the embeddings after 100 of its steps, about 11 s in; the test sample can be labeled meanwhile."
    )
    assert "100 faces picked on its embeddings (Representative: TypiClust)" in page.text_content("main")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "import-pretraining-estimate.png"), full_page=True)


def test_choosing_ada_cm_shows_its_figure_on_the_base_owners_get(live_server, browser_page):
    UserFactory(username="olga")
    page = browser_page
    log_in(page, live_server, "olga", "/projects/new/")
    page.wait_for_selector("[data-preset] >> nth=0")
    assert "57.9%" not in page.text_content("#training_mode-help")
    page.select_option("#training_mode", "semi_supervised")
    page.wait_for_selector("#training_mode-help:has-text('57.9% against 54.3% for supervised')")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#training_mode").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "project-form-ada-cm-figure.png"))
