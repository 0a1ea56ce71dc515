"""HMTL's auxiliary tasks (seed 003): tile bookkeeping, labels, gradients, and nothing left at inference."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from ml_engine.checkpoint import load_checkpoint, save_checkpoint
from ml_engine.data.dataset import FaceDataset
from ml_engine.export.model_export import export_model
from ml_engine.models import create_model
from ml_engine.models.auxiliary_heads import AuxiliaryHeads
from ml_engine.training import TrainConfig, fit
from ml_engine.training.auxiliary_tasks import (
    AuxiliaryTasks,
    TileTargets,
    rotate_tiles,
    scramble,
    split_tiles,
    unsplit_tiles,
)
from ml_engine.training.loop import hard_label_loss


def _images(batch: int = 2, side: int = 6) -> torch.Tensor:
    return torch.arange(batch * side * side, dtype=torch.float32).reshape(batch, 1, side, side)


@pytest.mark.parametrize("grid", [2, 3])
def test_unsplit_of_split_is_the_image(grid: int) -> None:
    images = _images(side=6)
    assert torch.equal(unsplit_tiles(split_tiles(images, grid), grid), images)


def test_tiles_are_row_major() -> None:
    images = _images(batch=1, side=4)
    tiles = split_tiles(images, 2)
    assert torch.equal(tiles[0, 1, 0], images[0, 0, 0:2, 2:4])  # row 0, column 1
    assert torch.equal(tiles[0, 2, 0], images[0, 0, 2:4, 0:2])  # row 1, column 0


@pytest.mark.parametrize("grid", [2, 3])
def test_identity_permutation_reproduces_the_image(grid: int) -> None:
    images = _images(side=6)
    identity = torch.arange(grid * grid).expand(2, grid * grid)
    assert torch.equal(scramble(images, grid, identity), images)
    assert torch.equal(scramble(images, grid, identity, torch.zeros_like(identity)), images)


def test_tile_perm_i_lands_at_position_i_and_its_label_is_perm_i() -> None:
    torch.manual_seed(0)
    tasks = AuxiliaryTasks("puzzle", embedding_dim=4, grid=3)
    images = _images(batch=3, side=9)
    scrambled, targets = tasks.scramble(images)
    assert targets.turns is None
    original, placed = split_tiles(images, 3), split_tiles(scrambled, 3)
    permutations = targets.permutations
    assert not torch.equal(permutations, torch.arange(9).expand(3, 9))  # really shuffled
    for face in range(3):
        assert sorted(permutations[face].tolist()) == list(range(9))
        for position in range(9):
            assert torch.equal(placed[face, position], original[face, permutations[face, position]])


def test_rotation_label_k_means_rot90_to_the_k() -> None:
    torch.manual_seed(1)
    tasks = AuxiliaryTasks("rotation", embedding_dim=4, grid=2)
    images = _images(batch=4, side=6)
    scrambled, targets = tasks.scramble(images)
    assert targets.permutations is None  # no puzzle heads: every tile stays at its position
    original, placed = split_tiles(images, 2), split_tiles(scrambled, 2)
    assert set(targets.turns.flatten().tolist()) == {0, 1, 2, 3}
    for face in range(4):
        for position in range(4):
            turns = int(targets.turns[face, position])
            assert torch.equal(
                placed[face, position], torch.rot90(original[face, position], turns, dims=(-2, -1))
            )


def test_puzzle_rotation_shuffles_then_turns_each_tile() -> None:
    images = _images(batch=1, side=4)
    permutation = torch.tensor([[3, 2, 1, 0]])
    turns = torch.tensor([[1, 0, 2, 3]])
    placed = split_tiles(scramble(images, 2, permutation, turns), 2)
    original = split_tiles(images, 2)
    for position in range(4):
        expected = torch.rot90(original[0, 3 - position], int(turns[0, position]), dims=(-2, -1))
        assert torch.equal(placed[0, position], expected)


def test_rotate_tiles_one_quarter_turn_is_counter_clockwise() -> None:
    tile = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 1, 2, 2)
    assert rotate_tiles(tile, torch.tensor([[1]])).flatten().tolist() == [2.0, 4.0, 1.0, 3.0]


def test_border_outside_the_grid_stays_in_place() -> None:
    images = _images(batch=1, side=8)  # 8 px in a 3x3 grid: the central 6 px square is tiled
    scrambled = scramble(images, 3, torch.tensor([[8, 7, 6, 5, 4, 3, 2, 1, 0]]))
    border = torch.ones(8, 8, dtype=torch.bool)
    border[1:7, 1:7] = False
    assert torch.equal(scrambled[0, 0][border], images[0, 0][border])
    assert not torch.equal(scrambled[0, 0, 1:7, 1:7], images[0, 0, 1:7, 1:7])


def test_auxiliary_loss_is_the_sum_over_heads_of_batch_mean_cross_entropy() -> None:
    tasks = AuxiliaryTasks("puzzle_rotation", embedding_dim=5, grid=2)
    logits = {"puzzle": torch.randn(3, 4, 4), "rotation": torch.randn(3, 4, 4)}
    targets = TileTargets(
        torch.tensor([[0, 1, 2, 3], [3, 2, 1, 0], [1, 0, 3, 2]]), torch.randint(0, 4, (3, 4))
    )
    expected = sum(
        torch.nn.functional.cross_entropy(logits[name][:, head], labels[:, head])
        for name, labels in (("puzzle", targets.permutations), ("rotation", targets.turns))
        for head in range(4)
    )
    assert torch.allclose(tasks.loss(logits, targets), expected)


def test_weighted_expression_loss_is_averaged_over_the_batch_not_the_weights() -> None:
    logits, labels = torch.randn(4, 3), torch.tensor([0, 0, 1, 2])
    weights = torch.tensor([0.5, 2.0, 4.0])
    per_face = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
    keras = (per_face * weights[labels]).sum() / 4
    torch_default = (per_face * weights[labels]).sum() / weights[labels].sum()
    indices = torch.arange(4)
    assert torch.allclose(hard_label_loss(weights, mean_over_batch=True)(logits, labels, indices), keras)
    assert torch.allclose(hard_label_loss(weights)(logits, labels, indices), torch_default)


def test_auxiliary_gradients_reach_the_shared_backbone() -> None:
    torch.manual_seed(0)
    model = create_model("small_cnn", 3, width=4)
    tasks = AuxiliaryTasks("puzzle_rotation", model.embedding_dim, grid=3)
    scrambled, targets = tasks.scramble(torch.randn(4, 1, 12, 12))
    _, embedding = model.forward_with_embedding(scrambled)
    tasks.loss(tasks.heads(embedding), targets).backward()
    first_conv = model.backbone[0][0].weight
    assert first_conv.grad is not None and first_conv.grad.abs().sum() > 0
    assert model.classifier.weight.grad is None  # only the auxiliary loss ran backward


def _faces(n: int = 24, side: int = 12) -> FaceDataset:
    rng = np.random.default_rng(0)
    labels = np.arange(n) % 2
    images = rng.integers(0, 80, (n, side, side)).astype(np.uint8)
    images[labels == 1, 3:9, 3:9] += 150
    return FaceDataset(
        ("plain", "square"), [f"f{i}" for i in range(n)], images, labels, np.array(["train"] * n)
    )


def _config(**overrides) -> TrainConfig:
    settings = {
        "model": "small_cnn",
        "model_kwargs": {"width": 4},
        "image_size": 12,
        "epochs": 1,
        "batch_size": 8,
    }
    return TrainConfig(**(settings | overrides))


@pytest.mark.parametrize("task", ["puzzle", "rotation", "puzzle_rotation"])
def test_fit_trains_the_heads_and_returns_the_plain_classifier(task: str, monkeypatch) -> None:
    made: list[tuple[AuxiliaryHeads, dict[str, torch.Tensor]]] = []
    build = AuxiliaryHeads.__init__

    def recording_init(heads: AuxiliaryHeads, *args, **kwargs) -> None:
        build(heads, *args, **kwargs)
        made.append((heads, copy.deepcopy(heads.state_dict())))

    monkeypatch.setattr(AuxiliaryHeads, "__init__", recording_init)
    result = fit(_config(auxiliary=task), _faces())
    ((heads, initial),) = made
    moved = {name: not torch.equal(initial[name], value) for name, value in heads.state_dict().items()}
    assert moved == dict.fromkeys(initial, True)  # every head's weights and bias took optimiser steps
    plain = create_model("small_cnn", 2, width=4)
    assert set(result.model.state_dict()) == set(plain.state_dict())
    assert list(result.model.children()) == [
        result.model.backbone,
        result.model.dropout,
        result.model.classifier,
    ]
    # One epoch from random heads stays near chance: each of the 9 tile heads scores about log(9)
    # (puzzle) or log(4) (rotation), and the auxiliary loss sums them over heads and tasks.
    chance = 9 * (math.log(9) * ("puzzle" in task) + math.log(4) * ("rotation" in task))
    assert result.history[0]["train_auxiliary_loss"] == pytest.approx(chance, rel=0.25)
    assert "train_auxiliary_loss" not in fit(_config(), _faces()).history[0]


def test_auxiliary_heads_change_the_backbone_they_share() -> None:
    plain = fit(_config(), _faces()).model.state_dict()
    hmtl = fit(_config(auxiliary="puzzle"), _faces()).model.state_dict()
    assert not torch.equal(plain["backbone.0.0.weight"], hmtl["backbone.0.0.weight"])


def test_eval_outputs_are_the_same_with_and_without_the_heads() -> None:
    torch.manual_seed(0)
    model = create_model("small_cnn", 3, width=4, dropout=0.3).eval()
    tasks = AuxiliaryTasks("puzzle_rotation", model.embedding_dim, grid=2)
    faces = torch.randn(5, 1, 8, 8)
    before = model(faces)
    tasks.heads.train()
    logits, embedding = model.forward_with_embedding(faces)
    tasks.heads(embedding)
    assert torch.equal(model(faces), before)
    assert torch.equal(logits, before)


def test_checkpoint_and_torchscript_hold_no_auxiliary_head(tmp_path) -> None:
    config = _config(auxiliary="puzzle_rotation", auxiliary_grid=2)
    model = fit(config, _faces()).model
    path = save_checkpoint(
        tmp_path / "model.pt", model, class_names=("plain", "square"), image_size=12, config=config
    )
    loaded, info = load_checkpoint(path)
    keys = set(torch.load(path, weights_only=True)["state_dict"])
    assert keys == set(create_model("small_cnn", 2, width=4).state_dict())
    assert not any("puzzle" in key or "rotation" in key or "auxiliary" in key for key in keys)
    assert info.config["auxiliary"] == "puzzle_rotation"
    faces = torch.randn(3, 1, 12, 12)
    exported = export_model(loaded, "torchscript", tmp_path, faces)
    script = torch.jit.load(exported.path)
    assert {name for name, _ in script.named_parameters()} == {name for name, _ in loaded.named_parameters()}
    assert set(script.state_dict()) == set(loaded.state_dict())
    assert torch.allclose(script(faces), loaded(faces), atol=1e-5)


def test_unknown_task_and_semi_supervised_are_refused() -> None:
    from ml_engine.training.semi_supervised import SemiSupervisedConfig

    with pytest.raises(ValueError, match="unknown auxiliary task"):
        fit(_config(auxiliary="jigsaw"), _faces())
    with pytest.raises(ValueError, match="do not combine with semi-supervised"):
        SemiSupervisedConfig.from_train_config(_config(auxiliary="puzzle"))
