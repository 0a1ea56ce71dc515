"""A whole project run from the browser (Debian's Chromium): a new owner creates a project with
custom classes, imports a zip, invites an annotator by link, the annotator labels a batch in a
second browser context, a reviewer fixes a disputed face, and the owner's CSV export shows it.

Screenshots of every new page go to var/screenshots/.
"""

from __future__ import annotations

import io
import uuid
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from annotator.models import Exclusion, Face, Membership, Project, Review, Role, Vote
from annotator.services import votes
from tests.annotator.factories import UserFactory, write_pool_index
from tests.browser.conftest import BROWSER_TEST_MARKS, SCREENSHOTS, log_in, wait_for

pytestmark = BROWSER_TEST_MARKS

FACES = 6


def faces_zip(path: Path) -> Path:
    """Six distinct grayscale 48x48 faces as PNG files in a zip."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in range(FACES):
            pixels = np.random.default_rng(index).integers(0, 256, (48, 48), dtype=np.uint8)
            png = io.BytesIO()
            Image.fromarray(pixels, mode="L").save(png, format="PNG")
            archive.writestr(f"face-{index}.png", png.getvalue())
    path.write_bytes(buffer.getvalue())
    return path


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def create_project(page, live_server) -> Project:
    page.click("#new-project")
    page.wait_for_url("**/projects/new/")
    page.fill("#name", "Smiles")
    page.click("[data-preset=custom]")
    page.click("#add-class")
    for row, (name, key) in enumerate([("calm", "c"), ("joy", "u"), ("anger", "a")]):
        page.fill(f"#classes tbody tr:nth-child({row + 1}) .name", name)
        page.fill(f"#classes tbody tr:nth-child({row + 1}) .key", key)
    for field, value in {
        "budget_votes": "30",
        "votes_per_face": "2",
        "batch_size": "4",
        "initial_set_size": "4",
    }.items():
        page.fill(f"#{field}", value)
    page.select_option("#ssl_method", "none")
    page.select_option("#initial_selection", "random")  # a representative first batch needs pre-training
    assert page.get_attribute("#batch_size", "max") == "10000"
    page.click("#create")
    page.wait_for_selector("#classes tbody tr:nth-child(2) .key-error:has-text('reserved')")
    shot(page, "new-project-refused")
    assert not Project.objects.exists()
    page.fill("#classes tbody tr:nth-child(2) .key", "j")
    page.click("#create")
    page.wait_for_url("**/import/")
    return Project.objects.get(name="Smiles")


def test_owner_runs_a_project_from_the_browser(
    live_server, browser_page, worker_process, tmp_path, monkeypatch
):
    from playwright.sync_api import sync_playwright  # noqa: F401  (the fixture started it)

    owner = UserFactory(username="olga")
    reviewer = UserFactory(username="rita")
    page = browser_page
    log_in(page, live_server, "olga", "/")
    page.wait_for_selector("#new-project")
    project = create_project(page, live_server)
    assert [(c.name, c.key) for c in project.classes.order_by("index")] == [
        ("calm", "c"),
        ("joy", "j"),
        ("anger", "a"),
    ]
    assert (project.owner, project.votes_per_face, project.budget_votes) == (owner, 2, 30)

    page.set_input_files("#files", str(faces_zip(tmp_path / "faces.zip")))
    page.select_option("#split", "pool")
    page.click("#import-form button[type=submit]")
    wait_for(lambda: Face.objects.filter(project=project).count() == FACES, timeout=60)
    page.click("#start")
    wait_for(lambda: project.cycles.exists())

    page.goto(f"{live_server.url}/projects/{project.pk}/team/")
    page.select_option("#invite-role", "annotator")
    page.click("#invite-form button[type=submit]")
    invite_url = page.wait_for_selector("#new-invite:not([hidden]) #invite-url").text_content()
    page.fill("#member-name", "rita")
    page.select_option("#member-role", "reviewer")
    page.click("#add-member button[type=submit]")
    page.wait_for_selector("#members tr[data-username=rita]")
    assert Membership.objects.get(project=project, user=reviewer).role == Role.REVIEWER
    shot(page, "team")

    browser = page.context.browser
    annotator_context = browser.new_context(viewport={"width": 1280, "height": 720})
    annotator_page = annotator_context.new_page()
    annotator_page.goto(invite_url)
    shot(annotator_page, "invite")
    annotator_page.fill("#username", "anna")
    annotator_page.fill("#password", "long-enough-pass")
    annotator_page.click("#join-form button[type=submit]")
    annotator_page.wait_for_url(f"**/projects/{project.pk}/label/")
    anna = Membership.objects.get(project=project, user__username="anna")
    assert anna.role == Role.ANNOTATOR
    for key in "cjac":
        annotator_page.wait_for_selector("#face:not([hidden])")
        annotator_page.wait_for_timeout(project.min_face_ms + 100)
        annotator_page.keyboard.press(key)
    wait_for(lambda: Vote.objects.filter(annotator=anna.user, retracted_at__isnull=True).count() == 4)
    annotator_context.close()

    anna_votes = dict(
        Vote.objects.filter(annotator=anna.user, face__split="pool").values_list("face_id", "class_index")
    )
    disputed, anna_class = next(iter(anna_votes.items()))
    second = UserFactory(username="sam")
    Membership.objects.create(project=project, user=second)
    sam = votes.Answer("label", ((anna_class + 1) % 3,))
    votes.submit_vote(project, second, face_id=disputed, answer=sam, client_id=uuid.uuid4())
    final = (anna_class + 2) % 3

    reviewer_context = browser.new_context(viewport={"width": 1280, "height": 720})
    reviewer_page = reviewer_context.new_page()
    log_in(reviewer_page, live_server, "rita", f"/projects/{project.pk}/review/")
    reviewer_page.wait_for_selector("#face:not([hidden])")
    reviewer_page.wait_for_selector("#why:has-text('votes disagree')")
    shot(reviewer_page, "review")
    reviewer_page.keyboard.press("cja"[final])
    wait_for(lambda: Review.objects.filter(face_id=disputed, undone_at__isnull=True).exists())
    reviewer_page.goto(f"{live_server.url}/projects/{project.pk}/faces/?state=reviewed")
    reviewer_page.wait_for_selector(f"#grid li[data-id='{disputed}']")
    shot(reviewer_page, "faces")
    reviewer_page.goto(f"{live_server.url}/projects/{project.pk}/faces/{disputed}/")
    reviewer_page.wait_for_selector("#history li:has-text('reviewed by rita')")
    shot(reviewer_page, "face")
    reviewer_context.close()
    review = Review.objects.get(face_id=disputed)
    assert (review.reviewer, review.label_before, review.label_after) == (reviewer, None, final)

    page.goto(f"{live_server.url}/projects/{project.pk}/settings/")
    page.wait_for_selector("#votes_per_face-locked:has-text('Fixed')")
    page.fill("#budget_votes", "1")
    page.click("#save")
    page.wait_for_selector("#budget_votes-error:has-text('already spent')")
    shot(page, "settings")
    assert Project.objects.get(pk=project.pk).budget_votes == 30

    page.goto(f"{live_server.url}/projects/{project.pk}/dashboard/")
    page.select_option("#label-format", "csv")
    page.click("#export-labels button[type=submit]")
    link = page.wait_for_selector("#export-list a", timeout=60_000)
    with page.expect_download() as download_info:
        link.click()
    page.wait_for_selector("#review-summary:has-text('1 face reviewed')")
    shot(page, "dashboard-reviews")
    lines = Path(download_info.value.path()).read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    assert header[-2:] == ["reviewed_by", "split"]
    by_file = {line.split(",")[0]: line.split(",") for line in lines[1:]}
    face_name = Face.objects.get(pk=disputed).source_name
    assert by_file[face_name][1] == ("calm", "joy", "anger")[final] and by_file[face_name][-2] == "rita"
    assert sum(1 for row in by_file.values() if row[-2]) == 1
    assert len(by_file) == Face.objects.filter(project=project).count()  # every split is exported

    # The pool's index as a pre-training leaves it, with a near-duplicate of the disputed face.
    ids = list(Face.objects.filter(project=project, split="pool").order_by("id").values_list("id", flat=True))
    twin = next(i for i in ids if i != disputed)
    vectors = np.random.default_rng(5).standard_normal((len(ids), 16)).astype(np.float32)
    vectors[ids.index(twin)] = vectors[ids.index(disputed)] * 1.001
    write_pool_index(project, lambda i: vectors[i])
    page.goto(f"{live_server.url}/projects/{project.pk}/faces/{disputed}/")
    page.wait_for_selector(f"#similar li.near-duplicate a[href$='/faces/{twin}/']")
    page.wait_for_function(
        "() => { const f = document.getElementById('face'); return f.complete && f.naturalWidth > 0; }"
    )
    shot(page, "face-similar")
    page.click("#exclude-duplicates")
    wait_for(
        lambda: Exclusion.objects.filter(face_id=twin, reason="duplicate", undone_at__isnull=True).exists()
    )
    assert Face.objects.get(pk=twin).excluded and not Face.objects.get(pk=disputed).excluded
