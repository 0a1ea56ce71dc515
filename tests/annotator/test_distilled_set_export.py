"""The "distilled set" export: synthetic images per class, learned step sizes, and a card scored on the test split."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from annotator.ml_bridge import exports as export_bridge
from annotator.models import Face, Project
from annotator.services import exports
from annotator.services.errors import InvalidInput
from ml_engine.distillation import ConvNet, distilled_accuracy, faces
from ml_engine.distillation.faces import face_tensors
from ml_engine.export.distilled_set import load_distilled_set
from tests.annotator.test_training_bridge import answered_project

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def few_iterations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_bridge, "DISTILL_ITERATIONS", 2)


def test_the_export_writes_images_per_class_step_sizes_and_a_card_scored_on_the_test_split(tmp_path: Path):
    project = answered_project("supervised")  # 4 labeled pool faces, 2 unsure, 2 labeled test faces
    path, details = exports.write_export(project, "distilled", "zip", None, tmp_path)

    assert path == tmp_path / "distilled_set.zip"
    names = set(zipfile.ZipFile(path).namelist())
    assert {"distilled_set.npz", "card.json", "card.md"} <= names
    assert sum(name.startswith("images/") for name in names) == 10 * 4  # 10 steps x 1 image x 4 classes
    distilled, class_names, card = load_distilled_set(path)
    assert class_names == list(project.classes.order_by("index").values_list("name", flat=True))
    assert distilled.images.shape == (10, 4, 1, 16, 16) and distilled.step_sizes.shape == (30,)
    assert card["training_faces"] == details["training_faces"] == 4
    assert card["test_faces"] == details["test_faces"] == 2 and len(card["test_accuracies"]) == 3
    # The card's accuracy is what a fresh network trained on the stored set scores on the test faces.
    test = face_tensors(_test_faces(project), 16)
    network = card["network"]
    replayed = distilled_accuracy(
        distilled,
        lambda: ConvNet(4, width=network["width"], depth=network["depth"], image_size=16),
        *test,
        networks=3,
    )
    assert [round(value, 4) for value in replayed] == card["test_accuracies"]


def _test_faces(project: Project):
    from annotator.ml_bridge.cycle_inputs import training_dataset
    from annotator.services.cycle_inputs import cycle_inputs

    return training_dataset(cycle_inputs(project)).split("test")


def test_the_distilled_set_never_trains_on_test_faces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    project = answered_project("supervised")
    seen = []
    original = faces.distill_faces

    def spying(config, train, test, **kwargs):
        seen.append((list(train.names), list(test.names)))
        return original(config, train, test, **kwargs)

    monkeypatch.setattr(faces, "distill_faces", spying)  # the bridge imports it at call time
    exports.write_export(project, "distilled", "zip", None, tmp_path)
    ((train, test),) = seen
    test_ids = {
        str(pk) for pk in Face.objects.filter(project=project, split="test").values_list("id", flat=True)
    }
    assert set(test) == test_ids and not set(train) & test_ids


def test_the_api_knows_the_distilled_kind(client_for):
    project = answered_project("supervised")
    response = client_for(project.owner).post(
        f"/api/projects/{project.pk}/exports/", {"what": "distilled", "format": "zip"}, format="json"
    )
    assert response.status_code == 201, response.content
    with pytest.raises(InvalidInput, match="unknown distilled format"):
        exports.request_export(project, what="distilled", format="csv")
