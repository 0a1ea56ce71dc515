"""An owner's own ResNet-18: given over the API, checked, adapted, and where training starts from."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import pytest
import torch
from django.core.files.uploadedfile import SimpleUploadedFile
from torchvision.models import resnet18

from annotator.ml_bridge.pretraining import pretrain_and_index
from annotator.ml_bridge.training import initial_weights
from annotator.models import Project
from annotator.services.cycle_inputs import cycle_inputs
from ml_engine.models.external_weights import gray_stem
from tests.annotator.factories import FaceFactory, add_annotator, make_labeling_project, make_project

pytestmark = pytest.mark.django_db


def torchvision_file(**overrides) -> SimpleUploadedFile:
    torch.manual_seed(0)
    state = resnet18(weights=None).state_dict() | overrides
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return SimpleUploadedFile("imagenet-resnet18.pth", buffer.getvalue())


def torch_file(payload: object, name: str = "evil.pt") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return SimpleUploadedFile(name, buffer.getvalue())


def url(project: Project) -> str:
    return f"/api/projects/{project.pk}/backbone-weights/"


def test_an_owner_gives_torchvision_weights_and_the_report_says_what_changed(client_for, settings):
    project = make_project(model_name="resnet18")
    response = client_for(project.owner).post(url(project), {"file": torchvision_file()}, format="multipart")

    assert response.status_code == 200, response.content
    report = response.json()
    assert report["file"] == "imagenet-resnet18.pth"
    assert report["adapted"] == ["conv1.weight: RGB summed to one channel"]
    assert report["left_out"] == ["fc.bias", "fc.weight"]
    assert report["loaded"] == len(resnet18().state_dict()) - 2  # all but the head, buffers included
    project.refresh_from_db()
    assert project.backbone_weights_report == report
    stored = torch.load(Path(settings.MEDIA_ROOT) / project.backbone_weights, weights_only=True)
    torch.manual_seed(0)
    original = resnet18(weights=None).state_dict()
    assert torch.equal(stored["conv1.weight"], gray_stem(original["conv1.weight"]))
    assert torch.equal(stored["layer4.1.bn2.running_var"], original["layer4.1.bn2.running_var"])
    assert "fc.weight" not in stored


class Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/faceloop-pwned",))


@pytest.mark.parametrize(
    ("upload", "reason"),
    [
        (torch_file({"conv1.weight": Payload()}), "never pickled code"),
        (
            SimpleUploadedFile("evil.pt", pickle.dumps({"conv1.weight": Payload()})),
            "not a PyTorch weights file",
        ),
        (SimpleUploadedFile("notes.txt", b"hello"), "not a PyTorch weights file"),
        (torchvision_file(**{"layer1.0.conv1.weight": torch.zeros(64, 64, 5, 5)}), "layer1.0.conv1.weight"),
    ],
    ids=["pickle-payload-in-torch-zip", "bare-pickle-payload", "not-torch", "wrong-shape"],
)
def test_refused_files_say_why_and_store_nothing(client_for, upload, reason, settings):
    project = make_project(model_name="resnet18")
    response = client_for(project.owner).post(url(project), {"file": upload}, format="multipart")

    assert response.status_code == 400
    assert reason in response.json()["detail"]
    assert not Path("/tmp/faceloop-pwned").exists()
    project.refresh_from_db()
    assert project.backbone_weights == "" and project.backbone_weights_report == {}
    folder = Path(settings.MEDIA_ROOT) / "projects" / str(project.pk) / "models"
    assert not folder.exists() or not any(folder.iterdir())


def test_another_architecture_and_other_roles_are_refused(client_for):
    small = make_project(model_name="small_cnn")
    response = client_for(small.owner).post(url(small), {"file": torchvision_file()}, format="multipart")
    assert response.status_code == 400 and "this project trains small_cnn" in response.json()["detail"]

    project = make_project(model_name="resnet18")
    annotator = add_annotator(project).user
    assert (
        client_for(annotator).post(url(project), {"file": torchvision_file()}, format="multipart").status_code
        == 403
    )
    assert client_for(annotator).delete(url(project)).status_code == 403


def test_weights_are_fixed_once_labeling_starts_and_training_starts_from_them(client_for):
    project = make_labeling_project(model_name="resnet18", image_size=32)
    response = client_for(project.owner).post(url(project), {"file": torchvision_file()}, format="multipart")
    assert response.status_code == 409

    fresh = make_project(model_name="resnet18", image_size=32, initial_set_size=2)
    owner = client_for(fresh.owner)
    assert owner.post(url(fresh), {"file": torchvision_file()}, format="multipart").status_code == 200
    fresh.refresh_from_db()
    inputs = cycle_inputs(fresh)
    weights, started_from = initial_weights(inputs)
    assert started_from == "owner weights"
    assert torch.equal(weights["conv1.weight"], torch.load(inputs.backbone_weights)["conv1.weight"])
    assert owner.delete(url(fresh)).status_code == 204
    fresh.refresh_from_db()
    assert initial_weights(cycle_inputs(fresh)) == (None, "scratch")


def test_pre_training_continues_from_the_owners_weights(client_for, monkeypatch, tmp_path):
    from ml_engine.ssl import pool_artifacts

    project = make_labeling_project(model_name="resnet18", image_size=32, ssl_method="simclr")
    Project.objects.filter(pk=project.pk).update(backbone_weights="")  # labeling started: set directly
    fresh = make_project(model_name="resnet18", ssl_method="simclr")
    FaceFactory.create_batch(2, project=fresh)  # pre-training needs a pair of faces
    client_for(fresh.owner).post(url(fresh), {"file": torchvision_file()}, format="multipart")
    fresh.refresh_from_db()
    given = []

    class Stop(Exception):
        pass

    def recording_pretrain(config, pool, out, **options):
        given.append(options["initial_weights"])
        raise Stop

    monkeypatch.setattr(pool_artifacts, "pretrain_pool", recording_pretrain)
    with pytest.raises(Stop):
        pretrain_and_index(
            cycle_inputs(fresh),
            "simclr",
            tmp_path,
            min_steps=0,
            device="cpu",
            progress=lambda _: None,
            cancel=lambda: False,
        )
    stored = torch.load(cycle_inputs(fresh).backbone_weights, weights_only=True)
    assert given and all(torch.equal(given[0][key], stored[key]) for key in stored)
