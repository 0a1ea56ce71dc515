"""The labeling page in real headless Chromium (Debian's, driven by Playwright).

Log in, label five faces by keyboard, undo one, mark one unsure with two classes, skip one,
then check the database and save a screenshot under var/screenshots/.
"""

from __future__ import annotations

from annotator.models import Project, Vote, VoteKind
from tests.annotator.factories import UserFactory, add_annotator, make_labeling_project
from tests.browser.conftest import BROWSER_TEST_MARKS, SCREENSHOTS, log_in, wait_for

pytestmark = BROWSER_TEST_MARKS


def shown_face(page) -> int:
    page.wait_for_selector("#face:not([hidden])")
    return int(page.get_attribute("#face", "data-face"))


def next_face(page, previous: int) -> int:
    page.wait_for_function(
        "previous => { const f = document.getElementById('face');"
        " return !f.hidden && f.dataset.face && Number(f.dataset.face) !== previous; }",
        arg=previous,
    )
    return shown_face(page)


def test_label_undo_unsure_and_skip_by_keyboard(live_server, browser_page, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    # Keys as fast as a script presses them; the on-screen minimum has its own test.
    project = make_labeling_project(pool=10, initial_set_size=8, budget_votes=50, min_face_ms=0)
    annotator = UserFactory(username="ann")
    add_annotator(project, user=annotator)
    page = browser_page

    log_in(page, live_server, "ann", f"/projects/{project.pk}/label/")
    page.wait_for_url(f"**/projects/{project.pk}/label/")

    labeled = {}
    face = shown_face(page)
    for key, class_index in zip("12341", [0, 1, 2, 3, 0], strict=True):
        labeled[face] = class_index
        page.keyboard.press(key)
        face = next_face(page, face)
    fifth = list(labeled)[-1]

    page.keyboard.press("z")
    page.wait_for_function("id => Number(document.getElementById('face').dataset.face) === id", arg=fifth)
    page.keyboard.press("u")
    assert page.get_attribute("#unsure", "aria-pressed") == "true"
    page.keyboard.press("2")
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    skipped = next_face(page, fifth)
    page.keyboard.press("s")
    next_face(page, skipped)

    live = Vote.objects.filter(annotator=annotator, retracted_at__isnull=True)
    wait_for(lambda: live.count() == 6)
    page.wait_for_function("() => document.getElementById('budget-text').textContent.startsWith('5 of')")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "labeling.png"))
    page.set_viewport_size({"width": 768, "height": 1024})  # a tablet, portrait
    for selector in ["#face", ".class-button >> nth=-1", "#skip", "#undo"]:
        box = page.locator(selector).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 768, selector
    page.screenshot(path=str(SCREENSHOTS / "labeling-tablet.png"))
    page.goto(f"{live_server.url}/projects/{project.pk}/dashboard/")
    page.wait_for_selector("#class-plot svg")
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)

    labels = {v.face_id: v.class_index for v in live.filter(kind=VoteKind.LABEL)}
    assert labels == {face_id: c for face_id, c in labeled.items() if face_id != fifth}
    unsure = live.get(kind=VoteKind.UNSURE)
    assert (unsure.face_id, unsure.candidate_set) == (fifth, [1, 2])
    assert live.get(kind=VoteKind.SKIP).face_id == skipped
    retracted = Vote.objects.get(annotator=annotator, retracted_at__isnull=False)
    assert (retracted.face_id, retracted.class_index) == (fifth, 0)
    assert Project.objects.get(pk=project.pk).votes_spent == 5
    assert all(v.time_spent_ms > 0 for v in live)
    assert (SCREENSHOTS / "labeling.png").stat().st_size > 10_000
