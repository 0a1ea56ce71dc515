"""``--auxiliary`` on ``train`` and ``simulate``: HMTL's heads train, and no checkpoint keeps them."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from ml_engine.__main__ import build_parser, main
from ml_engine.checkpoint import load_checkpoint
from ml_engine.cli.simulate import _settings
from ml_engine.models import create_model


def _image_folder(root, per_class: int = 6):
    rng = np.random.default_rng(0)
    for label, name in enumerate(("plain", "square")):
        folder = root / "train" / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            image = rng.integers(0, 80, (12, 12)).astype(np.uint8)
            image[3:9, 3:9] += 150 * label
            Image.fromarray(image).save(folder / f"{name}_{i}.png")
    return root


def test_train_with_auxiliary_tasks_writes_a_plain_checkpoint(tmp_path):
    data, checkpoint = _image_folder(tmp_path / "faces"), tmp_path / "model.pt"
    arguments = [
        *["train", "--data", str(data), "--out", str(checkpoint)],
        *["--format", "imagefolder", "--device", "cpu", "--model", "small_cnn", "--image-size", "12"],
        *["--epochs", "1", "--auxiliary", "puzzle_rotation", "--auxiliary-grid", "2"],
    ]
    assert main(arguments) == 0
    _, info = load_checkpoint(checkpoint)
    assert info.config["auxiliary"] == "puzzle_rotation" and info.config["auxiliary_grid"] == 2
    saved = torch.load(checkpoint, weights_only=True)["state_dict"]
    assert set(saved) == set(create_model("small_cnn", 2).state_dict())


def test_simulate_passes_the_auxiliary_task_to_every_cycle():
    command = (
        "simulate --data 60 --format synthetic --out unused --auxiliary rotation --initial 10 --budget 20"
    )
    arguments = command.split()
    settings, _ = _settings(build_parser().parse_args(arguments), pool_size=50)
    assert settings.train.auxiliary == "rotation" and settings.train.auxiliary_grid == 3
    default, _ = _settings(build_parser().parse_args(arguments[:7] + arguments[9:]), pool_size=50)
    assert default.train.auxiliary == "none"
