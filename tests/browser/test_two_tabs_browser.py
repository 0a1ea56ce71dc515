"""One user, two tabs of one browser: they label 20 faces between them, alternating, with no
answer refused and no face shown in both tabs (per-tab leases, each tab's id in sessionStorage)."""

from __future__ import annotations

from annotator.models import Vote
from tests.annotator.factories import UserFactory, add_annotator, make_labeling_project
from tests.browser.conftest import BROWSER_TEST_MARKS, log_in, shown_face, wait_for

pytestmark = BROWSER_TEST_MARKS


def test_two_tabs_of_one_user_label_20_faces_without_a_refusal_or_a_repeat(
    live_server, two_tabs, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    project = make_labeling_project(pool=30, initial_set_size=24, budget_votes=40, min_face_ms=0)
    annotator = UserFactory(username="ann")
    add_annotator(project, user=annotator)
    label_path = f"/projects/{project.pk}/label/"
    first, second = two_tabs
    log_in(first, live_server, "ann", label_path)
    second.goto(f"{live_server.url}{label_path}")
    tab_ids = [tab.evaluate("sessionStorage.getItem('faceloop.tab')") for tab in two_tabs]
    assert tab_ids[0] and tab_ids[1] and tab_ids[0] != tab_ids[1]

    shown = {0: shown_face(first), 1: shown_face(second)}
    answered: list[tuple[int, int, int]] = []  # (tab, face, class index)
    for turn in range(20):
        tab = turn % 2
        page = two_tabs[tab]
        assert shown[0] != shown[1], "both tabs show the same face"
        class_index = turn % 4
        answered.append((tab, shown[tab], class_index))
        page.keyboard.press(str(class_index + 1))
        shown[tab] = shown_face(page, shown[tab])

    faces = [face for _, face, _ in answered]
    assert len(set(faces)) == 20, "a face was asked twice"
    live = Vote.objects.filter(annotator=annotator, retracted_at__isnull=True)
    wait_for(lambda: live.count() == 20)
    assert dict(live.values_list("face_id", "class_index")) == {face: c for _, face, c in answered}
    assert dict(live.values_list("face_id", "tab")) == {face: tab_ids[tab] for tab, face, _ in answered}
    for page in two_tabs:
        assert page.inner_text("#message") == ""
        # every answer left the tab's outbox once stored (the last response may still be on its way)
        page.wait_for_function(f"() => sessionStorage.getItem('faceloop.outbox.{project.pk}.votes') === '[]'")
