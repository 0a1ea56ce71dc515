"""The app's first batch is the initial set ``python -m ml_engine simulate`` draws with the same seed."""

from __future__ import annotations

import pytest

from annotator import ml_bridge
from annotator.models import Face, Split
from annotator.services import cycles
from ml_engine.simulation.oracle_loop import random_initial_selection
from tests.annotator.factories import CLASS_NAMES, FaceFactory, make_project

pytestmark = pytest.mark.django_db


def _pool_as_simulate_reads_it(project) -> ml_bridge.FaceDataset:
    """The project's pool faces in id order as a dataset, the rows a simulation runs on."""
    rows = list(
        Face.objects.filter(project=project, split=Split.POOL, excluded=False)
        .order_by("id")
        .values("id", "image", "split", "label_index", "imported_label", "class_votes")
    )
    return ml_bridge.faces_to_dataset(CLASS_NAMES, rows)


@pytest.mark.parametrize("seed", [0, 7, 123456])
def test_same_pool_and_seed_give_the_same_faces(seed: int) -> None:
    project = make_project(seed=seed, initial_set_size=9, budget_votes=200)
    for pixel_seed in range(40):
        face = FaceFactory(project=project, pixel_seed=pixel_seed)
        if pixel_seed % 7 == 3:  # ids of faces outside the pool leave gaps in the pool's ids
            face.excluded = True
            face.save(update_fields=["excluded"])
        if pixel_seed % 11 == 5:
            face.split = Split.TEST
            face.imported_label = 0
            face.save(update_fields=["split", "imported_label"])
    pool = _pool_as_simulate_reads_it(project)

    simulated = [int(pool.names[row]) for row in random_initial_selection(pool, 9, seed)]

    assert cycles.choose_initial_set(project) == simulated
    assert len(set(simulated)) == 9


def test_another_seed_gives_other_faces() -> None:
    one = make_project(seed=1, initial_set_size=9, budget_votes=200)
    for pixel_seed in range(40):
        FaceFactory(project=one, pixel_seed=pixel_seed)
    pool = _pool_as_simulate_reads_it(one)

    other_seed = [int(pool.names[row]) for row in random_initial_selection(pool, 9, 2)]

    assert cycles.choose_initial_set(one) != other_seed


def test_the_initial_set_is_cut_to_the_faces_the_budget_pays_for() -> None:
    # 30 votes, 3 per face, 4 test faces first: 18 votes left pay for 6 faces, not 18.
    project = make_project(initial_set_size=9, budget_votes=30, votes_per_face=3)
    for pixel_seed in range(40):
        FaceFactory(project=project, pixel_seed=pixel_seed)

    assert len(cycles.choose_initial_set(project, test_faces=4)) == 6
    assert len(cycles.choose_initial_set(project, test_faces=10)) == 0
