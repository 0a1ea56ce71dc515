"""The confirm page in real headless Chromium (Debian's, driven by Playwright).

From the labeling page with no faces left, follow the link to the confirm page; confirm one
pseudo-label with Y, reject the next with N, undo the rejection with Z; then check the
database and save a screenshot under var/screenshots/.
"""

from __future__ import annotations

from annotator.models import Membership, Project, PseudoLabelOffer, Vote
from tests.annotator.factories import (
    FaceFactory,
    UserFactory,
    add_annotator,
    make_project,
    publish_test_offers,
)
from tests.browser.conftest import BROWSER_TEST_MARKS, SCREENSHOTS, log_in, wait_for

pytestmark = BROWSER_TEST_MARKS


def shown_offer(page, previous: int | None = None) -> int:
    page.wait_for_function(
        "previous => { const f = document.getElementById('face');"
        " return !f.hidden && f.dataset.offer && Number(f.dataset.offer) !== previous; }",
        arg=previous,
    )
    return int(page.get_attribute("#face", "data-offer"))


def states() -> dict[int, str]:
    return dict(PseudoLabelOffer.objects.values_list("pk", "state"))


def test_confirm_reject_and_undo_by_keyboard(live_server, browser_page, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    project = make_project(
        training_mode="semi_supervised", offer_confirmations=True, budget_votes=10, min_face_ms=0
    )
    faces = [FaceFactory(project=project).pk for _ in range(4)]
    offers = publish_test_offers(project, [(faces[0], 1, 0.97), (faces[1], 2, 0.95), (faces[2], 0, 0.93)])
    annotator = UserFactory(username="ann")
    add_annotator(project, user=annotator)
    page = browser_page

    log_in(page, live_server, "ann", f"/projects/{project.pk}/label/")
    page.click("#confirm-link")  # labeling has not started: no faces, but offers to confirm
    page.wait_for_url(f"**/projects/{project.pk}/confirm/")

    first = shown_offer(page)
    assert first == offers[0].pk
    assert page.inner_text("#claim") == "The model says: happiness (97%)"
    page.keyboard.press("y")
    second = shown_offer(page, first)
    assert page.inner_text("#claim") == "The model says: surprise (95%)"
    page.keyboard.press("n")
    third = shown_offer(page, second)
    page.wait_for_function("() => document.getElementById('rejected-count').textContent === '1'")
    page.keyboard.press("z")
    assert shown_offer(page, third) == second
    page.wait_for_function("() => document.getElementById('rejected-count').textContent === '0'")
    assert page.inner_text("#confirmed-count") == "1"
    assert "undone" in page.inner_text("#message")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "confirm.png"))

    wait_for(lambda: states() == {first: "confirmed", second: "offered", third: "offered"})
    confirmed = PseudoLabelOffer.objects.get(pk=first)
    assert (confirmed.answered_by, confirmed.class_index) == (annotator, 1)
    assert confirmed.time_spent_ms > 0
    assert Project.objects.get(pk=project.pk).votes_spent == 0
    assert Membership.objects.get(project=project, user=annotator).votes_cast == 0
    assert not Vote.objects.exists()

    page.keyboard.press("Enter")  # Enter confirms too
    assert shown_offer(page, second) == third
    page.keyboard.press("n")
    page.wait_for_function(
        "() => document.getElementById('face-status').textContent.startsWith('No confident pseudo-labels left')"
    )
    wait_for(lambda: states() == {first: "confirmed", second: "confirmed", third: "rejected"})
