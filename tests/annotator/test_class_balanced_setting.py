"""The class_balanced project setting: off by default, editable, and handed to the selection."""

from __future__ import annotations

import numpy as np
import pytest

from annotator.ml_bridge import FACE_IDS_KEY
from annotator.ml_bridge.selection import select_from_predictions
from annotator.services.cycle_inputs import cycle_inputs
from ml_engine.strategies import SelectionInputs, select_batch
from tests.annotator.factories import make_labeling_project

pytestmark = pytest.mark.django_db


def test_off_by_default_and_the_owner_can_switch_it_on(client_for):
    project = make_labeling_project()
    assert project.class_balanced is False
    assert cycle_inputs(project).class_balanced is False
    client = client_for(project.owner)
    response = client.patch(f"/api/projects/{project.id}/", {"class_balanced": True}, format="json")
    assert response.status_code == 200 and response.json()["class_balanced"] is True
    project.refresh_from_db()
    assert cycle_inputs(project).class_balanced is True


def test_stored_scores_are_selected_with_the_balanced_variant(tmp_path):
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet([4.0, 1.0, 0.3], size=40).astype(np.float32)
    path = tmp_path / "pool.npz"
    np.savez(
        path,
        **{FACE_IDS_KEY: np.arange(100, 140)},
        probabilities=probabilities,
        embeddings=rng.normal(size=(40, 3)).astype(np.float32),
    )
    labeled = np.array([0, 5])
    picked = select_from_predictions("least_confidence", path, labeled, 9, 7, class_balanced=True)
    inputs = SelectionInputs(40, probabilities=probabilities, embeddings=None, labeled=labeled)
    assert picked.tolist() == select_batch("least_confidence+balanced", inputs, 9, 7).tolist()
    plain = select_from_predictions("least_confidence", path, labeled, 9, 7)
    assert plain.tolist() == select_batch("least_confidence", inputs, 9, 7).tolist()
    predicted = probabilities.argmax(axis=1)
    assert len(set(predicted[picked].tolist())) == len(set(np.delete(predicted, labeled).tolist()))
