"""The dashboard's owner actions in real Chromium, with a real worker: export the labels, download them."""

from __future__ import annotations

from pathlib import Path

from annotator.models import Job, JobKind, JobState
from tests.annotator.factories import cast_vote, make_labeling_project
from tests.browser.conftest import BROWSER_TEST_MARKS, SCREENSHOTS, log_in

pytestmark = BROWSER_TEST_MARKS


def test_owner_exports_labels_from_the_dashboard(live_server, browser_page, worker_process) -> None:
    project = make_labeling_project(pool=8, initial_set_size=4, budget_votes=50)
    for entry, class_index in zip(
        project.cycles.get(number=0).entries.order_by("position"), [0, 1, 2], strict=False
    ):
        cast_vote(project, project.owner, entry.face_id, "label", (class_index,))
    page = browser_page
    log_in(page, live_server, project.owner.username, f"/projects/{project.pk}/dashboard/")
    page.wait_for_url(f"**/projects/{project.pk}/dashboard/")

    page.select_option("#label-format", "csv")
    page.select_option("#label-faces", "labeled")
    page.click("#export-labels button[type=submit]")
    page.wait_for_selector("#action-status:has-text('queued')")
    link = page.wait_for_selector("#export-list a", timeout=60_000)

    job = Job.objects.get(project=project, kind=JobKind.EXPORT)
    assert (job.state, job.result["faces"]) == (JobState.SUCCEEDED, "labeled")
    with page.expect_download() as download_info:
        link.click()
    lines = Path(download_info.value.path()).read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("file,label,")
    assert len(lines) == 1 + 3 + 2  # the three voted pool faces and the two labeled test faces
    assert sorted(line.split(",")[-1] for line in lines[1:]) == ["pool"] * 3 + ["test"] * 2
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "dashboard-export.png"), full_page=True)
