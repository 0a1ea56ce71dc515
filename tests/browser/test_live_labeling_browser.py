"""The labeling page follows the loop without a reload, in real Chromium with a real worker.

Cycle 0 is labeled; the next faces come at once, drawn at random while the first model trains,
and the first model's picks take over the part nobody started. When that batch is done, the next faces (the first model's next-ranked ones, continuous labeling)
appear within seconds while the second model trains; once the second model is published its
picks reach the page too.
"""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from annotator import ml_bridge
from annotator.models import Cycle, Face, Job, JobKind, Project, QueueEntry
from annotator.services import imports, projects
from tests.browser.conftest import BROWSER_TEST_MARKS, SCREENSHOTS, log_in, shown_face

pytestmark = BROWSER_TEST_MARKS

BATCH = 6


@pytest.fixture
def worker_env() -> dict[str, str]:
    # Long enough that the page's next faces arrive while a model still trains, also on an idle
    # machine (300 epochs of these few faces took under two seconds there).
    return {"FACELOOP_TRAIN_EPOCHS": "2000", "OMP_NUM_THREADS": "1"}


def live_project() -> Project:
    owner = get_user_model().objects.create_user("owner", password="secret-pass")
    faces = ml_bridge.synthetic_faces(60, seed=5, image_size=16)
    faces.labels[:] = -1  # plain images: every answer comes from the page
    project = projects.create_project(
        owner,
        name="live",
        classes=projects.default_class_specs(faces.class_names),
        budget_votes=60,
        batch_size=BATCH,
        initial_set_size=BATCH,
        ssl_method="none",
        initial_selection="random",
        # Written for models trained from scratch: model 2's take-over is checked against faces its
        # ranking (the batch and a reserve) holds, which a warm-started model 2 ranks otherwise.
        warm_start=False,
        model_name="small_cnn",
        image_size=16,
        min_face_ms=0,
    )
    imports.import_dataset(project, faces, split="pool")
    return project


def answer(page, face: int) -> int | None:
    """Press 1 on face ``face``; the next face on screen, or None once the page says none is left."""
    page.keyboard.press("1")
    page.wait_for_function(
        "previous => { const f = document.getElementById('face');"
        " const none = document.getElementById('face-status').textContent.includes('appear here on their own');"
        " return (f.hidden && none) || (!f.hidden && Number(f.dataset.face) !== previous); }",
        arg=face,
    )
    return None if page.is_hidden("#face") else int(page.get_attribute("#face", "data-face"))


def entry_of(project: Project, face: int) -> QueueEntry:
    entries = QueueEntry.objects.select_related("cycle", "cycle__selected_by")
    return entries.filter(cycle__project=project, face_id=face).latest("cycle__number")


def test_new_faces_arrive_without_a_reload_while_training_runs(
    live_server, browser_page, worker_process
) -> None:
    project = live_project()
    page = browser_page
    log_in(page, live_server, "owner", "/")
    page.goto(f"{live_server.url}/projects/{project.pk}/import/")
    page.click("#start")
    page.wait_for_selector("#start-status:has-text('Labeling is open')")
    page.goto(f"{live_server.url}/projects/{project.pk}/label/")
    page.evaluate("window.notReloaded = true")  # a reload would clear it

    # Cycle 0 (with the reserved test sample); then, at once, faces drawn at random while the
    # first model trains: the page never waits for it.
    face = shown_face(page)
    while entry_of(project, face).cycle.number == 0:
        pressed_at = time.monotonic()
        face = answer(page, face) or shown_face(page, timeout=5_000)
    assert time.monotonic() - pressed_at < 5
    fallback = entry_of(project, face)
    assert (fallback.chosen_by, fallback.cycle.number, fallback.cycle.selected_by) == ("random", 1, None)

    # The first model takes over the faces of that cycle nobody started: its picks reach the page.
    page.wait_for_selector("#model-text:has-text('version 1')", timeout=180_000)
    first = Cycle.objects.get(pk=fallback.cycle_id)
    assert first.selected_by.version == 1
    while entry_of(project, face).chosen_by != "strategy":
        face = answer(page, face) or shown_face(page)
    assert entry_of(project, face).cycle == first

    # The first model's batch to its end: the next faces come at once, while model 2 trains.
    while face is not None and entry_of(project, face).cycle == first:
        pressed_at = time.monotonic()
        face = answer(page, face)
    face = face if face is not None else shown_face(page, timeout=5_000)
    waited, shown_at = time.monotonic() - pressed_at, timezone.now()
    training = Job.objects.filter(project=project, kind=JobKind.TRAIN).latest("id")
    assert training.finished_at is None or training.finished_at > shown_at, (
        "the faces came after the training"
    )
    assert waited < 5, waited
    continued = entry_of(project, face).cycle
    assert (continued.number, continued.selected_by.version) == (first.number + 1, 1)
    page.wait_for_selector(f"#jobs-text:has-text('training #{training.pk}: ')", timeout=5_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "labeling-while-training.png"))

    # Model 2 takes over the faces of that cycle nobody started: they reach the page too.
    before = set(continued.entries.values_list("face_id", flat=True))
    page.wait_for_selector("#model-text:has-text('version 2')", timeout=180_000)
    continued.refresh_from_db()
    assert continued.selected_by.version == 2
    entries = list(
        continued.entries.order_by("position").values_list("face_id", "slots_taken", "votes_received")
    )
    started = [face for face, slots, votes in entries if slots or votes]
    assert entries[: len(started)] == [
        entry for entry in entries if entry[0] in started
    ]  # started ones stay first
    answered = set(Face.objects.filter(project=project, vote_count__gt=0).values_list("id", flat=True))
    ranked = [
        f for f in continued.selected_by.ranking[ml_bridge.FACE_IDS_KEY] if f not in {*started, *answered}
    ]
    tail = [face for face, _, _ in entries[len(started) :]]
    assert tail == ranked[: BATCH - len(started)], (
        "model 2's ranking did not take over the faces nobody started"
    )
    assert len(entries) == BATCH and set(before) <= set(started) | set(ranked)
    picks = set(tail)
    for _ in range(BATCH):
        if face in picks:
            break
        face = answer(page, face) or shown_face(page)
    assert face in picks
    assert page.evaluate("window.notReloaded") is True
