"""/media/: faces to their project's members, exports and model artefacts to its owners only.

Every file is asked for by the roles an outside probe used (anonymous, a signed-in stranger,
an annotator of the project, its owner, the owner and a co-owner of another project), and
paths are bent every way a guesser would try: every refusal must be the same 404 a missing
file gets, so a stranger cannot tell which files exist.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.http import FileResponse
from django.test import Client

from annotator.media import MediaKind, resolve_media_path
from annotator.models import Job, JobKind, JobState, Membership, Role
from annotator.services import exports, jobs
from tests.annotator.factories import (
    FaceFactory,
    UserFactory,
    add_annotator,
    make_labeling_project,
    make_project,
)

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "stranger", "annotator", "owner", "other_owner", "other_co_owner"]
FACE_STATUS = {
    "anonymous": 302,
    "stranger": 404,
    "annotator": 200,
    "owner": 200,
    "other_owner": 404,
    "other_co_owner": 404,
}
OWNERS_ONLY_STATUS = {**FACE_STATUS, "annotator": 403}


@pytest.fixture
def world(media_root: Path) -> dict:
    """Project A with a face, a finished label export and a model folder; project B beside it."""
    project = make_labeling_project(pool=3, test=1)
    other = make_project(name="Other")
    co_owner = UserFactory()
    Membership.objects.create(project=other, user=co_owner, role=Role.OWNER)
    export_job = exports.request_export(project, what="labels", format="csv")
    assert exports.run_export_job(export_job.pk) == JobState.SUCCEEDED
    export_job.refresh_from_db()
    train_job = Job.objects.create(project=project, kind=JobKind.TRAIN)
    model_dir = jobs.job_dir(train_job)
    model_dir.mkdir(parents=True)
    (model_dir / "model.pt").write_bytes(b"checkpoint bytes")
    (model_dir / "pool.npz").write_bytes(b"predictions")
    users = {
        "stranger": UserFactory(),
        "annotator": add_annotator(project).user,
        "owner": project.owner,
        "other_owner": other.owner,
        "other_co_owner": co_owner,
    }
    return {
        "project": project,
        "other": other,
        "users": users,
        "face": project.faces.order_by("id").first().image.name,
        "export": export_job.result["file"],
        "export_job": export_job,
        "model": jobs.stored_name(model_dir / "model.pt"),
    }


def browser(world: dict, role: str) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(world["users"][role])
    return client


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
"""The first bytes of every PNG file; a bare b"PNG" also matches a page's random CSRF token."""


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_what_the_api_allows(world: dict, role: str) -> None:
    client = browser(world, role)
    for what, expected in [
        ("face", FACE_STATUS),
        ("export", OWNERS_ONLY_STATUS),
        ("model", OWNERS_ONLY_STATUS),
    ]:
        response = client.get(f"/media/{world[what]}")
        assert response.status_code == expected[role], (what, role)
        if expected[role] == 302:
            assert response["Location"].startswith("/accounts/login/?next=/media/projects/")
        if expected[role] != 200:
            assert PNG_SIGNATURE not in body(response)
            assert b"checkpoint bytes" not in body(response)
            assert b"source_name" not in body(response)


@pytest.mark.parametrize("role", ["stranger", "annotator", "owner", "other_owner"])
def test_an_export_is_refused_through_media_exactly_as_through_the_api(world: dict, role: str) -> None:
    client = browser(world, role)
    api = client.get(f"/api/jobs/{world['export_job'].pk}/download/")
    media = client.get(f"/media/{world['export']}")
    assert (media.status_code, api.status_code) == (OWNERS_ONLY_STATUS[role], OWNERS_ONLY_STATUS[role])


def test_owners_get_the_files_themselves_streamed_from_disk(world: dict, media_root: Path) -> None:
    client = browser(world, "owner")
    face = client.get(f"/media/{world['face']}")
    assert isinstance(face, FileResponse)
    name = world["face"].rsplit("/", 1)[1]
    assert (face["Content-Type"], face["Content-Disposition"]) == ("image/png", f'inline; filename="{name}"')
    assert face["Cache-Control"] == "private, max-age=3600"
    assert body(face) == (media_root / world["face"]).read_bytes()
    export = client.get(f"/media/{world['export']}")
    assert isinstance(export, FileResponse)
    assert export["Content-Disposition"] == 'attachment; filename="labels.csv"'
    assert export["Cache-Control"] == "private, no-store"
    exported = body(export)
    assert exported == (media_root / world["export"]).read_bytes()
    assert exported.startswith(b"file,label,")
    model = client.get(f"/media/{world['model']}")
    assert body(model) == b"checkpoint bytes"
    assert world["export"].startswith(f"projects/{world['project'].pk}/exports/job-")
    assert world["model"].startswith(f"projects/{world['project'].pk}/models/job-")


def test_an_unchanged_face_answers_304_to_members_and_still_404_to_strangers(world: dict) -> None:
    url = f"/media/{world['face']}"
    modified = browser(world, "annotator").get(url)["Last-Modified"]
    assert browser(world, "annotator").get(url, HTTP_IF_MODIFIED_SINCE=modified).status_code == 304
    assert browser(world, "stranger").get(url, HTTP_IF_MODIFIED_SINCE=modified).status_code == 404


def test_only_reads_are_answered(world: dict, media_root: Path) -> None:
    client = browser(world, "owner")
    assert client.head(f"/media/{world['face']}").status_code == 200
    assert client.post(f"/media/{world['face']}").status_code == 405
    assert client.delete(f"/media/{world['export']}").status_code == 405
    assert (media_root / world["export"]).is_file()


def test_path_tricks_are_refused_with_404(world: dict, media_root: Path, tmp_path: Path) -> None:
    project, other = world["project"].pk, world["other"].pk
    other_face = FaceFactory(project=world["other"]).image.name
    export = world["export"].split(f"projects/{project}/", 1)[1]
    (media_root / "notes.txt").write_text("top level")
    outside = tmp_path / "outside.txt"
    outside.write_text("outside MEDIA_ROOT")
    faces = media_root / "projects" / str(project) / "faces"
    (faces / "escape.png").symlink_to(outside)
    (faces / "sideways.png").symlink_to(media_root / other_face)
    (faces / "up.csv").symlink_to(media_root / world["export"])
    (faces / "loop-a.png").symlink_to(faces / "loop-b.png")
    (faces / "loop-b.png").symlink_to(faces / "loop-a.png")
    tricks = [
        f"projects/{project}/faces/../{export}",
        f"projects/{project}/faces/%2e%2e/{export}",
        f"projects/{project}/faces/%2E%2E%2F{export.replace('/', '%2F')}",
        f"projects/{project}/./{export}",
        f"projects/{project}//{export}",
        f"projects/{project}/faces/..%5C{export}",
        f"/{media_root}/{world['face']}",
        f"{media_root}/{world['face']}".lstrip("/"),
        "/etc/passwd",
        other_face,
        other_face.replace(f"projects/{other}/", f"projects/{project}/"),
        f"projects/0{project}/{world['face'].split('/', 2)[2]}",
        f"projects/{project}/faces/escape.png",
        f"projects/{project}/faces/sideways.png",
        f"projects/{project}/faces/up.csv",
        f"projects/{project}/faces/loop-a.png",
        f"projects/{project}/faces/{'a' * 300}.png",
        f"projects/{project}/faces/{'a/' * 3000}x.png",
        f"projects/{project}/faces",
        f"projects/{project}/secrets/x.txt",
        f"projects/{project}",
        "notes.txt",
        "secret_key",
    ]
    client = browser(world, "owner")
    for trick in tricks:
        response = client.get(f"/media/{trick}")
        assert response.status_code == 404, trick
        assert b"outside MEDIA_ROOT" not in body(response)
        assert PNG_SIGNATURE not in body(response)
    annotator = browser(world, "annotator")
    assert annotator.get(f"/media/projects/{project}/faces/../{export}").status_code == 404
    assert annotator.get(f"/media/projects/{project}/faces/up.csv").status_code == 404


def test_a_front_server_can_take_over_the_transfer(world: dict, media_root: Path, settings) -> None:
    settings.MEDIA_SENDFILE = "x-accel-redirect"
    owner, annotator = browser(world, "owner"), browser(world, "annotator")
    handed = owner.get(f"/media/{world['export']}")
    assert handed.status_code == 200
    assert handed["X-Accel-Redirect"] == f"/protected-media/{world['export']}"
    assert handed["Content-Disposition"] == "attachment; filename*=UTF-8''labels.csv"
    assert handed.content == b""
    refused = annotator.get(f"/media/{world['export']}")
    assert (refused.status_code, refused.has_header("X-Accel-Redirect")) == (403, False)
    settings.MEDIA_SENDFILE = "x-sendfile"
    face = annotator.get(f"/media/{world['face']}")
    assert face["X-Sendfile"] == str((media_root / world["face"]).resolve())
    assert (face["Content-Type"], face.content) == ("image/png", b"")
    stranger = browser(world, "stranger").get(f"/media/{world['face']}")
    assert (stranger.status_code, stranger.has_header("X-Sendfile")) == (404, False)


def test_paths_resolve_to_their_project_and_folder_only_in_canonical_form(
    world: dict, media_root: Path
) -> None:
    project = world["project"].pk
    face = resolve_media_path(world["face"], media_root)
    assert (face.project_id, face.kind, face.absolute) == (
        project,
        MediaKind.FACES,
        (media_root / world["face"]).resolve(),
    )
    assert resolve_media_path(world["model"], media_root).kind is MediaKind.MODELS
    assert resolve_media_path(world["export"], media_root).kind.owners_only
    export = world["export"].split(f"projects/{project}/", 1)[1]
    for bent in [
        f"projects/{project}/faces/../{export}",
        f"projects/{project}/faces/./../{export}",
        f"projects/{project}/{export}/",
        f"/{world['face']}",
        f"projects/{project}/faces\\x.png",
    ]:
        assert resolve_media_path(bent, media_root) is None, bent
