"""Hostile weight files over the API: a 400 with a sentence, quickly, no server path, no file left."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
import torch
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from torchvision.models import resnet18

from annotator.models import Project
from tests.annotator.factories import make_project

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(60)]

_ABSOLUTE_PATH = re.compile(r"(?<![\w.])/(?:tmp|home|var|work|root|srv|usr|opt|proc)\b|[A-Za-z]:\\")


@pytest.fixture
def upload_dir(settings, tmp_path) -> Path:
    """Where Django spools uploads: every upload goes to a temporary file there, none stays in memory."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0
    return folder


def saved(payload: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def deflated(archive: bytes) -> bytes:
    """``archive`` (a torch.save zip) with every member deflated: a zip bomb when a member is zeros."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(archive)) as original,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as copy,
    ):
        for info in original.infolist():
            copy.writestr(info.filename, original.read(info.filename))
    return out.getvalue()


def self_holding() -> bytes:
    looping: dict[str, object] = {}
    looping["state_dict"] = looping
    return saved(looping)


def url(project: Project) -> str:
    return f"/api/projects/{project.pk}/backbone-weights/"


def assert_nothing_left(settings, project: Project, upload_dir: Path) -> None:
    project.refresh_from_db()
    assert project.backbone_weights == "" and project.backbone_weights_report == {}
    folder = Path(settings.MEDIA_ROOT) / "projects" / str(project.pk) / "models"
    assert not folder.exists() or list(folder.iterdir()) == []
    assert list(upload_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "sentence"),
    [
        (
            deflated(saved({"conv1.weight": torch.zeros(3 * 1024**2)})),
            "the file holds a member that unpacks to 12 MB, more than the limit of 8 MB for a whole weights file",
        ),
        (self_holding(), "the file's containers hold themselves: there are no weights to find"),
        (
            saved({"module." * 1500 + "conv1.weight": torch.zeros(64, 3, 7, 7)}),
            "a parameter name is wrapped in more than 8 module./_orig_mod. prefixes ('module.module.module.",
        ),
        (b"\x80\x02not a zip at all", "the file is in PyTorch's legacy format"),
    ],
    ids=["zip-bomb", "self-holding-dict", "module-1500-times", "legacy-pickle"],
)
def test_a_hostile_file_is_a_400_with_a_sentence_and_no_path(
    client_for, settings, upload_dir, content, sentence
):
    settings.FACELOOP_MAX_WEIGHTS_BYTES = 8 * 1024**2
    assert len(content) < settings.FACELOOP_MAX_WEIGHTS_BYTES  # the upload cap alone lets each through
    project = make_project(model_name="resnet18")

    response = client_for(project.owner).post(
        url(project), {"file": SimpleUploadedFile("hostile.pt", content)}, format="multipart"
    )

    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail.startswith(sentence)
    text = response.content.decode()
    assert str(settings.MEDIA_ROOT) not in text and str(upload_dir) not in text
    assert _ABSOLUTE_PATH.search(text) is None
    assert_nothing_left(settings, project, upload_dir)


def test_a_good_file_spooled_to_disk_is_adopted_and_its_spool_file_removed(client_for, settings, upload_dir):
    project = make_project(model_name="resnet18")
    content = saved(resnet18(weights=None).state_dict())
    models = Path(settings.MEDIA_ROOT) / "projects" / str(project.pk) / "models"
    models.mkdir(parents=True)
    (models / "tmpk3y_7q2p.upload").write_bytes(b"left by a worker stopped mid-upload")

    response = client_for(project.owner).post(
        url(project), {"file": SimpleUploadedFile("r18.pth", content)}, format="multipart"
    )

    assert response.status_code == 200, response.content
    assert response.json()["loaded"] == len(resnet18().state_dict()) - 2
    assert list(upload_dir.iterdir()) == []
    assert [path.name for path in models.iterdir()] == [
        Path(Project.objects.get(pk=project.pk).backbone_weights).name
    ]


class CutOff:
    """A request body whose client goes away after ``keep`` bytes: reading on raises, as a reset socket does."""

    def __init__(self, body: bytes, keep: int) -> None:
        self.stream, self.keep = io.BytesIO(body), keep

    def read(self, size: int = -1) -> bytes:
        if self.stream.tell() >= self.keep:
            raise ConnectionResetError("client went away")
        return self.stream.read(min(size if size >= 0 else self.keep, self.keep - self.stream.tell()))

    def readline(self, size: int = -1) -> bytes:
        if self.stream.tell() >= self.keep:
            raise ConnectionResetError("client went away")
        return self.stream.readline(min(size if size >= 0 else self.keep, self.keep - self.stream.tell()))


def test_an_upload_cut_off_mid_body_leaves_no_temporary_file(client_for, settings, upload_dir):
    project = make_project(model_name="resnet18")
    body = encode_multipart(BOUNDARY, {"file": SimpleUploadedFile("r18.pth", saved(resnet18().state_dict()))})

    response = client_for(project.owner).generic(
        "POST", url(project), body, MULTIPART_CONTENT, **{"wsgi.input": CutOff(body, keep=len(body) // 2)}
    )

    assert response.status_code == 400
    assert response.json()["detail"] == "the upload was interrupted before it was complete; send it again"
    assert_nothing_left(settings, project, upload_dir)


def test_a_failure_while_checking_removes_the_spooled_upload(client_for, settings, upload_dir, monkeypatch):
    from annotator.services import backbone_weights

    def failing(*args, **kwargs):
        raise ValueError("the file's tensors cannot be copied into the network")

    monkeypatch.setattr(backbone_weights, "adopt_backbone_weights", failing)
    project = make_project(model_name="resnet18")
    response = client_for(project.owner).post(
        url(project),
        {"file": SimpleUploadedFile("r18.pth", saved({"conv1.weight": torch.zeros(1)}))},
        format="multipart",
    )

    assert response.status_code == 400
    assert response.json()["detail"] == "the file's tensors cannot be copied into the network"
    assert_nothing_left(settings, project, upload_dir)


def test_an_import_cut_off_mid_body_leaves_no_temporary_file(client_for, upload_dir):
    project = make_project()
    faces = [SimpleUploadedFile(f"face-{i}.png", bytes(4096)) for i in range(4)]
    body = encode_multipart(BOUNDARY, {"files": faces})

    response = client_for(project.owner).generic(
        "POST",
        f"/api/projects/{project.pk}/imports/",
        body,
        MULTIPART_CONTENT,
        **{"wsgi.input": CutOff(body, keep=len(body) * 3 // 4)},
    )

    assert response.status_code == 400
    assert response.json()["detail"] == "the upload was interrupted before it was complete; send it again"
    assert list(upload_dir.iterdir()) == []
    assert not project.faces.exists()


def test_no_copy_of_the_upload_lies_in_media_while_it_is_checked(
    client_for, settings, upload_dir, monkeypatch
):
    """A worker killed mid-check (a hang, a timeout) runs no cleanup: nothing of the upload may be in MEDIA_ROOT then."""
    from annotator.services import backbone_weights

    seen_during_check: list[list[str]] = []

    def recording(*args, **kwargs):
        seen_during_check.append(
            sorted(path.name for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file())
        )
        raise ValueError("the file is not a PyTorch weights file that can be read")

    monkeypatch.setattr(backbone_weights, "adopt_backbone_weights", recording)
    project = make_project(model_name="resnet18")
    client_for(project.owner).post(
        url(project), {"file": SimpleUploadedFile("r18.pth", b"x" * 1000)}, format="multipart"
    )

    assert seen_during_check == [[]]
