"""Leases in Chromium: two tabs of one annotator and a second annotator. The tab left without faces
says why in a sentence; a hidden tab gives its faces back after the hide timeout and the others
get them; a closed tab gives them back at once (sendBeacon); no face is ever on two screens."""

from __future__ import annotations

import time

from annotator import assignment
from annotator.models import Lease, Vote
from tests.annotator.factories import UserFactory, add_annotator, make_labeling_project
from tests.browser.conftest import BROWSER_TEST_MARKS, SCREENSHOTS, log_in, shown_face, wait_for

pytestmark = BROWSER_TEST_MARKS

LEASE_SECONDS = 30  # the shortest lease: the page renews every 10 s and gives back after 10 s hidden

HIDE = """() => {
  Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
  Object.defineProperty(document, "hidden", { value: true, configurable: true });
  document.dispatchEvent(new Event("visibilitychange"));
}"""


def status_text(page) -> str:
    return page.inner_text("#face-status")


def wait_for_sentence(page, words: str) -> str:
    page.wait_for_function(
        "words => document.getElementById('face-status').textContent.includes(words)",
        arg=words,
        timeout=20_000,
    )
    return status_text(page)


def face_on_screen(page) -> int | None:
    return page.evaluate(
        "() => { const f = document.getElementById('face'); return f.hidden ? null : Number(f.dataset.face); }"
    )


def test_hidden_and_closed_tabs_give_their_faces_back_and_the_waiting_tab_says_why(
    live_server, two_tabs, browser_page, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    project = make_labeling_project(
        pool=4, test=0, initial_set_size=4, budget_votes=4, min_face_ms=0, lease_seconds=LEASE_SECONDS
    )
    ann, bob = UserFactory(username="ann"), UserFactory(username="bob")
    add_annotator(project, user=ann), add_annotator(project, user=bob)
    label_path = f"/projects/{project.pk}/label/"
    first, second = two_tabs
    log_in(first, live_server, "ann", label_path)
    shown_face(first)
    wait_for(lambda: Lease.objects.filter(annotator=ann).count() == 4)  # the first tab prefetched all four

    second.goto(f"{live_server.url}{label_path}")
    sentence = wait_for_sentence(second, "held by your other tab")
    assert sentence.startswith("4 faces are held by your other tab: free in ")
    assert sentence.endswith("unless it is in use. New ones appear here on their own.")
    assert face_on_screen(second) is None
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    second.screenshot(path=str(SCREENSHOTS / "labeling-waiting-for-another-tab.png"))

    hidden_at = time.monotonic()
    first.evaluate(HIDE)
    wait_for(lambda: not Lease.objects.filter(annotator=ann, tab=tab_id(first)).exists(), timeout=25)
    released_after = time.monotonic() - hidden_at
    assert 9 <= released_after < LEASE_SECONDS - 5, f"given back after {released_after:.1f} s"
    on_second = shown_face(second, timeout=25_000)
    assert face_on_screen(first) is None
    assert "gave its faces back" in status_text(first)
    wait_for(lambda: Lease.objects.filter(annotator=ann, tab=tab_id(second)).count() == 4)
    assert on_second in set(Lease.objects.filter(tab=tab_id(second)).values_list("entry__face_id", flat=True))

    bob_context = browser_page.context.browser.new_context(viewport={"width": 1280, "height": 720})
    bob_page = bob_context.new_page()
    log_in(bob_page, live_server, "bob", label_path)
    bobs_sentence = wait_for_sentence(bob_page, "held by other annotators")
    assert bobs_sentence.startswith("4 faces are held by other annotators: free in ")

    closed_at = time.monotonic()
    second.close()
    wait_for(lambda: not Lease.objects.filter(annotator=ann).exists(), timeout=10)
    assert time.monotonic() - closed_at < 5, "the closed tab's faces waited for their lease to lapse"
    answered = [shown_face(bob_page, timeout=20_000)]
    for _ in range(3):
        bob_page.keyboard.press("1")
        answered.append(shown_face(bob_page, answered[-1]))
    bob_page.keyboard.press("1")
    wait_for(lambda: Vote.objects.filter(annotator=bob).count() == 4)
    assert sorted(answered) == sorted(Vote.objects.filter(annotator=bob).values_list("face_id", flat=True))
    assert face_on_screen(first) is None
    bob_context.close()


def tab_id(page) -> str:
    return page.evaluate("sessionStorage.getItem('faceloop.tab')")


def test_the_owner_sees_who_holds_faces_releases_them_and_sees_how_faces_were_chosen(
    live_server, browser_page, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    project = make_labeling_project(pool=6, test=0, test_sample_size=0, initial_set_size=4, budget_votes=20)
    hidden = UserFactory(username="hidden-tab-user")
    add_annotator(project, user=hidden)
    held = [lease.entry.face_id for lease in assignment.next_faces(project, hidden, 3, tab="background-tab")]
    page = browser_page
    log_in(page, live_server, project.owner.username, f"/projects/{project.pk}/dashboard/")

    row = page.wait_for_selector("#lease-holders tr")
    cells = [cell.inner_text() for cell in row.query_selector_all("td")][:3]
    assert cells == ["hidden-tab-user", "backgrou", f"3 faces ({', '.join(map(str, held))})"]
    page.wait_for_selector("#chosen-by li[data-chosen-by='initial']")
    assert page.inner_text("#chosen-by") == "Initial set: 4 faces (4 in cycle 0)"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#leases-card").screenshot(path=str(SCREENSHOTS / "dashboard-lease-holders.png"))

    row.query_selector("button").click()
    page.wait_for_selector("#lease-status:has-text('3 given back to the queue from hidden-tab-user')")
    page.wait_for_selector("#lease-none:not([hidden])")
    assert not Lease.objects.exists()


def test_a_visible_tab_nobody_touches_gives_its_faces_back_and_takes_new_ones_at_the_next_key(
    live_server, browser_page, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FACELOOP_IDLE_RELEASE_SECONDS = 2  # checked at each heartbeat: every 10 s here
    project = make_labeling_project(
        pool=4, test=0, initial_set_size=4, budget_votes=4, min_face_ms=0, lease_seconds=LEASE_SECONDS
    )
    ann = UserFactory(username="ann")
    add_annotator(project, user=ann)
    page = browser_page
    log_in(page, live_server, "ann", f"/projects/{project.pk}/label/")
    shown_face(page)
    wait_for(lambda: Lease.objects.filter(annotator=ann).exists())

    wait_for(lambda: not Lease.objects.filter(annotator=ann).exists(), timeout=25)  # nobody touched it
    assert face_on_screen(page) is None
    assert "You were away" in status_text(page)

    page.keyboard.press("Shift")  # back at the keyboard
    assert shown_face(page, timeout=15_000)
    wait_for(lambda: Lease.objects.filter(annotator=ann).exists())
