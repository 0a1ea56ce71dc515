"""Label Studio uploads: tasks become faces with votes; a hostile or broken upload is refused whole."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotator import ml_bridge
from annotator.models import Face, Job, JobKind, JobState
from ml_engine.data.importers import label_studio
from tests.annotator.factories import face_pixels, make_project

pytestmark = pytest.mark.django_db


def png(seed: int) -> bytes:
    return ml_bridge.encode_pixels(face_pixels(seed)).png


def task(image: str, *answers: list[str], split: str | None = None) -> dict:
    result = [
        {
            "completed_by": 7,
            "result": [
                {"type": "choices", "from_name": "label", "to_name": "image", "value": {"choices": choices}}
            ],
        }
        for choices in answers
    ]
    return {"data": {"image": image, **({"split": split} if split else {})}, "annotations": result}


def zipped(tasks: object, members: dict[str, bytes]) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("export.json", json.dumps(tasks))
        for name, data in members.items():
            archive.writestr(name, data)
    return SimpleUploadedFile("label-studio.zip", buffer.getvalue(), content_type="application/zip")


def upload(client_for, project, file):
    return client_for(project.owner).post(
        f"/api/projects/{project.pk}/imports/", {"files": [file], "split": "auto"}, format="multipart"
    )


def test_tasks_with_images_import_as_faces_with_votes(client_for) -> None:
    project = make_project()
    tasks = [
        task("images/a.png", ["happiness"], ["happiness"], ["sadness"]),
        task("/data/upload/3/0f1e2d3c-b.png", ["neutral"], ["neutral"], split="test"),
        task("/data/local-files/?d=faces/c.png"),
    ]
    file = zipped(tasks, {"images/a.png": png(1), "uploads/b.png": png(2), "faces/c.png": png(3)})

    response = upload(client_for, project, file)

    assert response.status_code == 201, response.content
    faces = {face.sha256: face for face in Face.objects.filter(project=project)}
    a, b, c = (faces[ml_bridge.encode_pixels(face_pixels(seed)).sha256] for seed in (1, 2, 3))
    assert (a.split, a.imported_votes, a.imported_label) == ("pool", [0, 2, 0, 1], 1)
    assert (b.split, b.imported_votes, b.imported_label) == ("test", [2, 0, 0, 0], 0)
    assert (c.split, c.imported_votes, c.imported_label) == ("pool", None, None)


HOSTILE = {
    "not a list": (
        {"data": {"image": "images/a.png"}},
        {"images/a.png": b""},
        "expected a non-empty JSON list",
    ),
    "no image": ([{"data": {"picture": "a.png"}}], {}, "task 1: expected an object with data.image"),
    "climbs out": ([task("../a.png")], {"a.png": b""}, "absolute or climbs out of the folder"),
    "absolute": ([task("/etc/a.png")], {}, "absolute or climbs out of the folder"),
    "missing image": (
        [task("images/a.png"), task("images/gone.png")],
        {"images/a.png": b""},
        "task 2: image 'images/gone.png' is missing",
    ),
    "web url": ([task("https://example.org/a.png")], {}, "is a web URL"),
    "bad choices": (
        [
            {
                "data": {"image": "a.png"},
                "annotations": [{"result": [{"type": "choices", "value": {"choices": "x"}}]}],
            }
        ],
        {"a.png": b""},
        "value.choices, a list of class names",
    ),
    "unknown classes": (
        [task("a.png", ["happiness"], ["joy"], ["pain"])],
        {"a.png": b""},
        "the tasks name classes this project does not have: joy, pain",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_broken_or_hostile_upload_is_a_400_and_imports_nothing(client_for, case: str) -> None:
    project = make_project()
    tasks, members, message = HOSTILE[case]
    members = {name: data or png(index) for index, (name, data) in enumerate(members.items())}

    response = upload(client_for, project, zipped(tasks, members))

    assert response.status_code == 400, response.content
    assert message in response.json()["detail"]
    assert not Face.objects.filter(project=project).exists()
    job = Job.objects.get(project=project, kind=JobKind.IMPORT)
    assert job.state == JobState.FAILED and message in job.message


def test_a_zip_member_that_climbs_out_refuses_the_whole_upload(client_for) -> None:
    project = make_project()
    file = zipped([task("a.png", ["happiness"])], {"a.png": png(1), "../evil.png": png(2)})

    response = upload(client_for, project, file)

    assert response.status_code == 400
    assert "cannot be extracted safely" in response.json()["detail"]
    assert not Face.objects.filter(project=project).exists()


def test_a_tasks_file_over_the_limit_is_refused(client_for, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(label_studio, "MAX_TASKS_BYTES", 100)
    project = make_project()
    tasks = [task("a.png", ["happiness"]) for _ in range(5)]
    file = SimpleUploadedFile("tasks.json", json.dumps(tasks).encode(), content_type="application/json")

    response = upload(client_for, project, file)

    assert response.status_code == 400
    assert "more than the limit of 100" in response.json()["detail"]
    assert not Face.objects.filter(project=project).exists()


def test_a_zipped_tasks_file_over_the_member_limit_refuses_the_upload(client_for, monkeypatch) -> None:
    from ml_engine.data.importers import safe_zip

    monkeypatch.setattr(safe_zip, "MAX_MEMBER_BYTES", 150)
    project = make_project()
    tasks = [task(f"images/{index}.png", ["happiness"]) for index in range(5)]
    file = zipped(tasks, {f"images/{index}.png": png(index) for index in range(5)})

    response = upload(client_for, project, file)

    assert response.status_code == 400, response.content
    assert "export.json" in response.json()["detail"]
    assert not Face.objects.filter(project=project).exists()


def test_a_test_face_whose_votes_tie_keeps_them_and_a_test_face_without_votes_is_refused(client_for) -> None:
    """A tied test face has no label, but its votes were paid for: a round trip must not drop them.
    A test face with neither label nor votes has nothing to measure a model by and is still refused."""
    project = make_project()
    tasks = [task("a.png", ["happiness"], ["sadness"], split="test"), task("b.png", split="test")]

    response = upload(client_for, project, zipped(tasks, {"a.png": png(1), "b.png": png(2)}))

    assert response.status_code == 201, response.content
    tied = Face.objects.get(project=project)
    assert tied.sha256 == ml_bridge.encode_pixels(face_pixels(1)).sha256
    assert (tied.split, tied.imported_votes, tied.imported_label) == ("test", [0, 1, 0, 1], None)
    job = Job.objects.get(project=project, kind=JobKind.IMPORT)
    assert job.result["problems"] == [
        {"source": "b.png", "reason": "a test face needs a label or votes of this project's classes"}
    ]
