from __future__ import annotations

import csv
import io

import numpy as np
import pytest
import torch
from PIL import Image

from ml_engine.__main__ import build_parser, main
from ml_engine.checkpoint import load_checkpoint
from ml_engine.cli import COMMANDS
from ml_engine.cli.progress_bar import ProgressBar
from ml_engine.progress import Progress


def _image_folder(root, per_class: int = 8):
    """An ImageFolder with train/ and test/ splits: 'square' faces have a bright patch."""
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for label, name in enumerate(("plain", "square")):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(per_class):
                image = rng.integers(0, 80, (16, 16)).astype(np.uint8)
                if label:
                    image[5:11, 5:11] += 150
                Image.fromarray(image).save(folder / f"{split}_{name}_{i}.png")
    return root


def test_every_listed_command_is_registered():
    import argparse

    (subparsers,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    runs = {name: parser.get_default("func") for name, parser in subparsers.choices.items()}
    # A module may name its subcommand differently (e.g. "export" registers "export-model").
    assert {name: getattr(run, "__module__", None) for name, run in runs.items()} == {
        "train": "ml_engine.cli.train",
        "evaluate": "ml_engine.cli.evaluate",
        "predict": "ml_engine.cli.predict",
        "export-model": "ml_engine.cli.export",
        "simulate": "ml_engine.cli.simulate",
        "pretrain": "ml_engine.cli.pretrain",
        "select-auxiliary": "ml_engine.cli.select_auxiliary",
        "distill": "ml_engine.cli.distill",
    }
    assert sorted(run.__module__ for run in runs.values()) == sorted(
        f"ml_engine.cli.{name}" for name in COMMANDS
    )


def test_train_evaluate_predict_round_trip(tmp_path, capsys):
    data = _image_folder(tmp_path / "faces")
    checkpoint = tmp_path / "model.pt"
    common = ["--data", str(data), "--format", "imagefolder", "--device", "cpu"]
    train = ["train", *common, "--out", str(checkpoint), "--model", "small_cnn", "--image-size", "16"]
    assert main([*train, "--epochs", "2", "--batch-size", "8", "--lr", "0.05"]) == 0
    model, info = load_checkpoint(checkpoint)
    assert info.class_names == ("plain", "square") and info.config["epochs"] == 2
    assert "val_accuracy" in info.metrics

    assert main(["evaluate", "--checkpoint", str(checkpoint), *common]) == 0
    out = capsys.readouterr().out
    assert "split test" in out and "faces 16" in out and "confusion" in out

    npz, table = tmp_path / "p.npz", tmp_path / "p.csv"
    assert (
        main(["predict", "--checkpoint", str(checkpoint), *common, "--out", str(npz), "--split", "test"]) == 0
    )
    assert main(["predict", "--checkpoint", str(checkpoint), *common, "--out", str(table)]) == 0
    arrays = np.load(npz)
    assert arrays["probabilities"].shape == (16, 2) and arrays["embeddings"].shape == (
        16,
        model.embedding_dim,
    )
    np.testing.assert_allclose(arrays["probabilities"].sum(axis=1), 1.0, rtol=1e-5)
    rows = list(csv.reader(table.read_text().splitlines()))
    assert rows[0] == ["name", "predicted", "plain", "square"] and len(rows) == 33


def test_bad_input_ends_with_an_error_line_not_a_traceback(tmp_path, capsys):
    assert main(["evaluate", "--checkpoint", str(tmp_path / "none.pt"), "--data", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: ")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_request_without_gpu_fails_clearly(tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "m.pt"), "--device", "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


EPOCH_LINE = "train epoch 1/2   50.0%  step 4/4  loss 0.5000  val_accuracy 0.7500\n"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_writes_one_line_per_epoch_when_not_a_terminal():
    stream = io.StringIO()
    bar = ProgressBar(stream)
    bar(Progress("train", 1, 2, 1, 4, loss=1.0))
    bar(Progress("train", 1, 2, 4, 4, loss=0.5, metrics={"val_accuracy": 0.75, "train_loss": 0.5}))
    bar(Progress("train", 2, 2, 1, 4, loss=0.4))
    assert stream.getvalue() == EPOCH_LINE


def test_progress_bar_on_a_terminal_draws_tqdm_and_keeps_the_epoch_line():
    stream = Terminal()
    bar = ProgressBar(stream)
    bar(Progress("train", 1, 2, 1, 4, loss=1.0))
    bar(Progress("train", 1, 2, 4, 4, loss=0.5, metrics={"val_accuracy": 0.75}))
    bar(Progress("train", 2, 2, 4, 4, loss=0.25))
    drawn = stream.getvalue()
    assert EPOCH_LINE in drawn
    assert drawn.startswith("\rtrain epoch 1/2:   0%|") and "0/8 [" in drawn
    assert "train epoch 2/2: 100%|" in drawn and "8/8 [" in drawn and "loss 0.2500" in drawn
    assert bar._bar is None  # the finished run's bar is closed


def test_initial_weights_that_name_their_architecture_replace_model_and_stem(tmp_path):
    from ml_engine.checkpoint import save_checkpoint
    from ml_engine.cli.train import architecture
    from ml_engine.models import create_model

    model = create_model("small_cnn", 2, dropout=0.3, width=8)
    checkpoint = save_checkpoint(tmp_path / "m.pt", model, class_names=("a", "b"), image_size=16)
    name, kwargs, weights = architecture("resnet18", "imagenet", str(checkpoint))
    assert (name, kwargs) == ("small_cnn", {"width": 8})  # dropout and in_channels are the run's own
    assert weights is not None and set(weights) == set(model.state_dict())

    raw = tmp_path / "backbone.pt"
    torch.save(model.backbone.state_dict(), raw)
    name, kwargs, weights = architecture("small_cnn", None, str(raw))
    assert (name, kwargs) == ("small_cnn", {}) and weights is not None
    assert set(weights) == set(model.backbone.state_dict())

    assert architecture("resnet18", "imagenet", None) == ("resnet18", {"stem": "imagenet"}, None)
