"""Pages that must not mislead or fall apart, in real headless Chromium (Debian's, via Playwright):
the new-project page's budget planner refuses an impossible plan, the labeling page fits a
400 px screen, and the label and review pages work by keyboard alone. Screenshots go to var/screenshots/."""

from __future__ import annotations

import uuid

from annotator.models import Face, Project, Review, Role, Split, Vote
from annotator.services import votes
from tests.annotator.factories import UserFactory, add_annotator, make_labeling_project
from tests.browser.conftest import BROWSER_TEST_MARKS, SCREENSHOTS, log_in, shown_face, wait_for

pytestmark = BROWSER_TEST_MARKS


def shot(page, name: str, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def tab_to(page, element_id: str) -> None:
    """Press Tab until the element with ``element_id`` has the focus, as a keyboard user would."""
    for _ in range(40):
        if page.evaluate("document.activeElement.id") == element_id:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached #{element_id}")


def test_the_planner_shows_the_split_and_refuses_an_impossible_plan(live_server, browser_page):
    UserFactory(username="olga")
    page = browser_page
    log_in(page, live_server, "olga", "/projects/new/")
    page.wait_for_url("**/projects/new/")
    page.fill("#name", "Plan")
    page.fill("#budget_votes", "1000")
    page.fill("#votes_per_face", "2")
    page.fill("#batch_size", "50")
    page.fill("#initial_set_size", "100")
    page.fill("#test_sample_size", "40")
    page.wait_for_selector("#budget-plan[data-runs=true] #budget-plan-rows td:has-text('7 x 50 faces')")
    rows = page.locator("#budget-plan-rows tr").all_inner_texts()
    assert rows[:3] == [
        "Test sample\t40 faces x 2 votes\t80 votes\treserved from the pool when labeling starts (at most half the budget's faces)",
        "Initial set\t100 faces x 2 votes\t200 votes\tlabeled first; the first model trains on it",
        "Batches\t7 x 50 faces x 2 votes\t700 votes\teach picked by the newest model",
    ]
    assert "a default of 200 images/s" in page.inner_text("#budget-plan-retrain")
    shot(page, "new-project-planner")

    # The reported plan: 100 faces x 2 votes on a budget of 200.
    page.fill("#test_sample_size", "")
    page.fill("#budget_votes", "200")
    page.wait_for_selector("#budget-plan[data-runs=false] #budget-plan-problems li")
    assert "the whole budget of 200" in page.inner_text("#budget-plan-problems")
    page.click("#create")
    page.wait_for_selector("#initial_set_size-error:has-text('no batch can follow the initial set')")
    assert "at least 300 votes" in page.inner_text("#budget_votes-error")
    shot(page, "new-project-planner-refused")
    assert not Project.objects.exists()


def test_the_labeling_page_fits_a_400_px_screen(live_server, browser_page):
    project = make_labeling_project(pool=8, initial_set_size=6, budget_votes=60, min_face_ms=0)
    add_annotator(project, user=UserFactory(username="ann"))
    page = browser_page
    page.set_viewport_size({"width": 400, "height": 800})
    log_in(page, live_server, "ann", f"/projects/{project.pk}/label/")
    shown_face(page)

    assert page.evaluate("document.scrollingElement.scrollWidth") <= 400
    for selector in ["#face", ".class-button >> nth=-1", "#skip", "#undo", "#budget-text"]:
        box = page.locator(selector).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 400, selector
    shot(page, "label-400px")


def test_the_label_page_works_by_keyboard_alone(live_server, browser_page):
    project = make_labeling_project(pool=8, initial_set_size=6, budget_votes=60, min_face_ms=0)
    annotator = UserFactory(username="ann")
    add_annotator(project, user=annotator)
    page = browser_page
    log_in(page, live_server, "ann", f"/projects/{project.pk}/label/")
    first = shown_face(page)

    # Tab to the Skip button and press it with Enter: the face is skipped, and the keys go back to the page.
    tab_to(page, "skip")
    page.keyboard.press("Enter")
    second = shown_face(page, first)
    assert page.evaluate("document.activeElement.classList.contains('stage')")
    page.keyboard.press("1")  # answers the face, not the Skip button
    shown_face(page, second)

    live = Vote.objects.filter(annotator=annotator, retracted_at__isnull=True)
    wait_for(lambda: live.count() == 2)
    assert sorted(live.values_list("kind", flat=True)) == ["label", "skip"]


def test_the_review_page_works_by_keyboard_alone(live_server, browser_page):
    project = make_labeling_project(pool=6, initial_set_size=6, budget_votes=60, votes_per_face=2)
    reviewer = UserFactory(username="rita")
    project.memberships.create(user=reviewer, role=Role.REVIEWER)
    others = [add_annotator(project).user for _ in range(2)]
    faces = list(Face.objects.filter(project=project, split=Split.POOL).order_by("id")[:2])
    for face in faces:  # two votes that disagree: a face in doubt
        for user, class_index in zip(others, [0, 1], strict=True):
            answer = votes.Answer("label", (class_index,))
            votes.submit_vote(project, user, face_id=face.pk, answer=answer, client_id=uuid.uuid4())
    page = browser_page
    log_in(page, live_server, "rita", f"/projects/{project.pk}/review/")
    page.wait_for_selector("#face:not([hidden])")

    # Choose the reason by keyboard: the menu takes the arrow key, then hands the keys back.
    tab_to(page, "reason")
    page.keyboard.press("ArrowDown")
    page.wait_for_function("() => document.activeElement.id === 'review-stage'")
    page.keyboard.press("3")

    wait_for(lambda: Review.objects.filter(reviewer=reviewer).count() == 1)
    assert Review.objects.get(reviewer=reviewer).label_after == 2


def test_the_face_browser_follows_its_filters_without_a_button(live_server, browser_page):
    project = make_labeling_project(pool=5, test=2)
    page = browser_page
    log_in(page, live_server, project.owner.username, f"/projects/{project.pk}/faces/")
    page.wait_for_selector("#count:has-text('7 faces shown')")

    tab_to(page, "f-split")
    page.keyboard.press("ArrowDown")  # any -> pool
    page.keyboard.press("ArrowDown")  # pool -> test

    page.wait_for_selector("#count:has-text('2 faces shown')")
    assert "split=test" in page.url
    assert page.locator("#filters button").count() == 0
