"""Answers are never given by accident and never lost, in real Chromium.

- Space and Enter after a mouse click, key auto-repeat, and a key within the project's
  ``min_face_ms`` of a face appearing cast no vote; number keys answer with the suggestion
  checkbox focused.
- A refused answer brings its face back with the reason; Esc moves on.
- Signed out in one tab, the other tab keeps its answer, offers a sign-in link back to the
  page, and sends the answer after signing in.
"""

from __future__ import annotations

import time

from annotator.models import Project, Vote
from tests.annotator.factories import UserFactory, add_annotator, make_labeling_project
from tests.browser.conftest import BROWSER_TEST_MARKS, SCREENSHOTS, log_in, shown_face, wait_for

pytestmark = BROWSER_TEST_MARKS

MIN_FACE_MS = 1000


def votes(annotator) -> dict[int, int | None]:
    return dict(
        Vote.objects.filter(annotator=annotator, retracted_at__isnull=True).values_list(
            "face_id", "class_index"
        )
    )


def settle(page) -> None:
    """Long enough for a key to count under MIN_FACE_MS, and for a wrongly sent vote to land."""
    page.wait_for_timeout(MIN_FACE_MS + 300)


def test_clicks_repeats_and_early_keys_cast_no_vote(live_server, browser_page, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    project = make_labeling_project(
        pool=8, initial_set_size=8, budget_votes=50, min_face_ms=MIN_FACE_MS, show_model_suggestion=True
    )
    annotator = UserFactory(username="ann")
    add_annotator(project, user=annotator)
    page = browser_page
    log_in(page, live_server, "ann", f"/projects/{project.pk}/label/")

    first = shown_face(page)
    settle(page)
    page.click(".class-button >> nth=1")  # a mouse click answers at once
    second = shown_face(page, first)
    assert page.evaluate("document.activeElement.tagName") != "BUTTON"
    settle(page)
    page.keyboard.press("Space")
    page.keyboard.press("Enter")
    settle(page)
    assert votes(annotator) == {first: 1}
    assert shown_face(page) == second

    page.keyboard.press("3")
    third = shown_face(page, second)
    page.keyboard.press("4")  # at once: within min_face_ms of the face appearing
    settle(page)
    assert votes(annotator) == {first: 1, second: 2}
    assert shown_face(page) == third

    page.keyboard.down("2")  # held down: one vote, then auto-repeat
    fourth = shown_face(page, third)
    settle(page)
    page.keyboard.down("2")  # Playwright marks a second keydown without keyup as a repeat
    page.keyboard.up("2")
    settle(page)
    assert votes(annotator) == {first: 1, second: 2, third: 1}
    assert shown_face(page) == fourth

    page.click("#show-suggestion")  # the checkbox hands the focus back to the face: every key answers
    assert page.evaluate("document.activeElement.classList.contains('stage')")
    page.keyboard.press("1")
    shown_face(page, fourth)
    wait_for(lambda: votes(annotator) == {first: 1, second: 2, third: 1, fourth: 0})


def test_a_refused_answer_keeps_its_face_on_screen_with_the_reason(
    live_server, browser_page, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    project = make_labeling_project(pool=6, initial_set_size=6, budget_votes=3, min_face_ms=0)
    annotator = UserFactory(username="ann")
    add_annotator(project, user=annotator)
    page = browser_page
    log_in(page, live_server, "ann", f"/projects/{project.pk}/label/")

    first = shown_face(page)
    Project.objects.filter(pk=project.pk).update(votes_spent=3)  # others spent the budget meanwhile
    page.keyboard.press("2")
    page.wait_for_function("() => document.getElementById('message').textContent.includes('was not saved')")
    assert shown_face(page) == first
    assert "budget" in page.inner_text("#message").lower()
    assert page.is_visible("#dismiss")
    page.keyboard.press("2")  # the face can take no answer: keys do nothing
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.getElementById('face').hidden")
    assert "budget is spent" in page.inner_text("#face-status")
    assert not Vote.objects.exists()


def test_signed_out_in_another_tab_the_answer_waits_and_is_sent_after_signing_in(
    live_server, two_tabs, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    project = make_labeling_project(pool=8, initial_set_size=8, budget_votes=50, min_face_ms=0)
    annotator = UserFactory(username="ann")
    add_annotator(project, user=annotator)
    label_path = f"/projects/{project.pk}/label/"
    first_tab, second_tab = two_tabs
    log_in(first_tab, live_server, "ann", label_path)
    shown_face(first_tab)
    second_tab.goto(f"{live_server.url}{label_path}")
    answered = shown_face(second_tab)

    first_tab.click(".signout button")  # signs the whole browser out
    first_tab.wait_for_url("**/accounts/login/**")
    second_tab.keyboard.press("3")
    second_tab.wait_for_selector("#signed-out:not([hidden])")
    assert "1 answer is kept" in second_tab.inner_text("#signed-out")
    assert second_tab.is_hidden("#face")
    link = second_tab.get_attribute("#signed-out a", "href")
    assert link == f"/accounts/login/?next={label_path.replace('/', '%2F')}"
    outbox = second_tab.evaluate(f"JSON.parse(sessionStorage.getItem('faceloop.outbox.{project.pk}.votes'))")
    assert [entry["body"]["face"] for entry in outbox] == [answered]
    time.sleep(0.5)
    assert not Vote.objects.exists()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    second_tab.screenshot(path=str(SCREENSHOTS / "labeling-signed-out.png"))

    second_tab.click("#signed-out a")
    second_tab.fill("#id_username", "ann")
    second_tab.fill("#id_password", "secret-pass")
    second_tab.click("button[type=submit]")
    second_tab.wait_for_url(f"**{label_path}")
    wait_for(lambda: votes(annotator) == {answered: 2})
    assert shown_face(second_tab) != answered
    second_tab.wait_for_function(
        f"() => sessionStorage.getItem('faceloop.outbox.{project.pk}.votes') === '[]'"
    )


def test_signed_in_again_in_another_tab_the_waiting_tab_sends_its_answer_by_itself(
    live_server, two_tabs, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    project = make_labeling_project(pool=8, initial_set_size=8, budget_votes=50, min_face_ms=0)
    annotator = UserFactory(username="ann")
    add_annotator(project, user=annotator)
    label_path = f"/projects/{project.pk}/label/"
    first_tab, second_tab = two_tabs
    log_in(first_tab, live_server, "ann", label_path)
    second_tab.goto(f"{live_server.url}{label_path}")
    answered = shown_face(second_tab)

    first_tab.click(".signout button")
    first_tab.wait_for_url("**/accounts/login/**")
    second_tab.keyboard.press("4")
    second_tab.wait_for_selector("#signed-out:not([hidden])")
    time.sleep(0.5)
    assert not Vote.objects.exists()

    # Signing in rotates the CSRF token: the waiting tab reads the new one from the cookie.
    log_in(first_tab, live_server, "ann", label_path)
    second_tab.wait_for_selector("#signed-out", state="hidden", timeout=30_000)
    wait_for(lambda: votes(annotator) == {answered: 3})
    assert shown_face(second_tab) != answered
    assert second_tab.evaluate("window.location.pathname") == label_path
