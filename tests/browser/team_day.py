"""Helpers of the team-day browser test: the faces to import, the tabs' face logs and the
waits read from them, and the owner's clicks that need more than one line."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from django.db.models import Max

from annotator import ml_bridge
from annotator.models import Cycle, Job, JobKind, Lease, Project, QueueEntry, Vote
from tests.browser.conftest import wait_for

FACE_LOG = """() => {
  const face = document.getElementById("face");
  window.faceLog = [];
  const note = () => {
    const id = face.hidden || !face.dataset.face ? null : Number(face.dataset.face);
    const last = window.faceLog[window.faceLog.length - 1];
    if (!last || last.face !== id) window.faceLog.push({ t: Date.now() / 1000, face: id });
  };
  note();
  new MutationObserver(note).observe(face, { attributes: true, attributeFilter: ["hidden", "data-face"] });
}"""
"""Record in the page every change of the face on screen (its id, or null when none is shown), with
the browser's clock: the waits are measured where the labeler sees them, not by the test's polling."""

HIDE = """() => {
  Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
  Object.defineProperty(document, "hidden", { value: true, configurable: true });
  document.dispatchEvent(new Event("visibilitychange"));
}"""

CSRF_FETCH = """async ([method, url, body]) => {
  const cookie = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
  const token = cookie ? decodeURIComponent(cookie.slice(10)) : document.querySelector('meta[name="csrf-token"]').content;
  const response = await fetch(url, { method, body: JSON.stringify(body),
    headers: { "Content-Type": "application/json", "X-CSRFToken": token } });
  return response.status;
}"""
"""An API call from a signed-in page, as the pages' own api.js makes it."""


def pool_zip(path: Path, count: int, seed: int) -> Path:
    """``count`` synthetic 16x16 faces as PNG files in a zip, as a team would upload them."""
    faces = ml_bridge.synthetic_faces(count, seed=seed, image_size=16)
    with zipfile.ZipFile(path, "w") as archive:
        for index in range(count):
            archive.writestr(f"face-{index:03d}.png", ml_bridge.encode_pixels(faces.images[index]).png)
    return path


def face_on_screen(page) -> int | None:
    return page.evaluate(
        "() => { const f = document.getElementById('face'); return f.hidden ? null : Number(f.dataset.face); }"
    )


def cycle_of(project: Project, face: int) -> int:
    """The number of the newest cycle that queued ``face``."""
    entries = QueueEntry.objects.filter(cycle__project=project, face_id=face)
    return entries.latest("cycle__number").cycle.number


@dataclass
class Waits:
    """One tab's waits for a face, read from its face log.

    ``gaps`` are (seconds without a face, the cycle of the face that ended the wait); ``turns``
    maps each cycle the tab moved into to the seconds it spent without a face on that move
    (0.0 when the next cycle's face replaced the last one's at once), whatever it waited for (the
    colleague who still had the batch's last faces, too); ``first_shown`` when the first face of
    each cycle appeared; ``open_since`` is when a wait began that no face has ended yet (None if
    a face is on screen). Times are the browser's clock, in seconds since the epoch.
    """

    gaps: list[tuple[float, int]] = field(default_factory=list)
    turns: dict[int, float] = field(default_factory=dict)
    first_shown: dict[int, float] = field(default_factory=dict)
    open_since: float | None = None


def waits_of(project: Project, log: list[dict]) -> Waits:
    waits = Waits()
    empty_since: float | None = None
    last_cycle: int | None = None
    for event in log:
        if event["face"] is None:
            empty_since = event["t"] if empty_since is None else empty_since
            continue
        cycle = cycle_of(project, event["face"])
        waits.first_shown.setdefault(cycle, event["t"])
        waited = 0.0 if empty_since is None else event["t"] - empty_since
        if empty_since is not None:
            waits.gaps.append((waited, cycle))
        if last_cycle is not None and cycle > last_cycle:
            waits.turns[cycle] = max(waits.turns.get(cycle, 0.0), waited)
        last_cycle, empty_since = max(cycle, last_cycle or 0), None
    waits.open_since = empty_since
    return waits


def batch_ends(project: Project) -> dict[int, float]:
    """When each cycle's batch ended: the moment its last vote was stored (epoch seconds)."""
    ends = Vote.objects.filter(project=project).values("cycle__number").annotate(end=Max("created_at"))
    return {row["cycle__number"]: row["end"].timestamp() for row in ends}


def download_export(page, live_server, project: Project, format: str) -> Path:
    """Export every face of every split from the dashboard and download the file by its link."""
    page.goto(f"{live_server.url}/projects/{project.pk}/dashboard/")
    page.wait_for_selector("#export-labels")
    before = Job.objects.filter(project=project, kind=JobKind.EXPORT).count()
    page.select_option("#label-format", format)
    page.select_option("#label-faces", "all")
    page.click("#export-labels button[type=submit]")
    wait_for(lambda: Job.objects.filter(project=project, kind=JobKind.EXPORT).count() > before)
    job = Job.objects.filter(project=project, kind=JobKind.EXPORT).latest("id")
    link = page.wait_for_selector(f"#export-list a[href='/api/jobs/{job.pk}/download/']", timeout=90_000)
    with page.expect_download() as download:
        link.click()
    return Path(download.value.path())


def watch(page, errors: list[str], who: str) -> None:
    page.on("console", lambda m: errors.append(f"{who}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"{who}: {e}"))


def invite_links(page, live_server, project: Project) -> list[str]:
    page.goto(f"{live_server.url}/projects/{project.pk}/team/")
    links: list[str] = []
    for role in ("annotator", "annotator", "reviewer"):
        page.select_option("#invite-role", role)
        page.click("#invite-form button[type=submit]")
        page.wait_for_function(
            "known => { const u = document.getElementById('invite-url');"
            " return !document.getElementById('new-invite').hidden && u.textContent && !known.includes(u.textContent); }",
            arg=links,
        )
        links.append(page.text_content("#invite-url"))
    return links


def join(browser, link: str, username: str, errors: list[str]):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.set_default_timeout(15_000)
    watch(page, errors, username)
    page.goto(link)
    page.fill("#username", username)
    page.fill("#password", "long-enough-pass")
    page.click("#join-form button[type=submit]")
    page.wait_for_url("**/projects/*/**")
    return context, page


def stalled(project: Project, tabs: dict, last_pressed: dict) -> str:
    state = {
        name: (face_on_screen(page), last_pressed[name], page.inner_text("#face-status"))
        for name, page in tabs.items()
    }
    votes = Vote.objects.filter(project=project).count()
    cycles = list(Cycle.objects.filter(project=project).values_list("number", "state"))
    leases = list(Lease.objects.values_list("annotator__username", "tab", "entry__face_id", "expires_at"))
    voted = list(Vote.objects.filter(project=project).values_list("face_id", "annotator__username", "tab"))
    tab_ids = {name: page.evaluate("sessionStorage.getItem('faceloop.tab')") for name, page in tabs.items()}
    return (
        f"no tab got a new face for 60 s: {votes} votes, cycles {cycles}, tabs {state}, "
        f"tab ids {tab_ids}, leases {leases}, votes {voted}"
    )
