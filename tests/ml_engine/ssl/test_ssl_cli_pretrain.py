"""``python -m ml_engine pretrain`` writes a checkpoint, embeddings and an index that fit together."""

from __future__ import annotations

import numpy as np
import torch

from ml_engine.__main__ import main
from ml_engine.embeddings import load_embeddings
from ml_engine.index import EmbeddingIndex
from ml_engine.ssl import load_pretrained_backbone


def test_pretrain_command_writes_checkpoint_embeddings_and_index(tmp_path, capsys) -> None:
    out = tmp_path / "ssl"
    options = "--data 24 --format synthetic --model small_cnn --image-size 16 --epochs 1 --batch-size 8"
    arguments = ["pretrain", *options.split(), "--out", str(out), "--device", "cpu"]
    assert main(arguments) == 0
    assert "losses per epoch" in capsys.readouterr().out
    vectors, metadata = load_embeddings(out)
    assert vectors.shape == (24, 64) and metadata.method == "simclr" and metadata.epochs == 1
    index = EmbeddingIndex.load(out / "index.faiss", use_gpu=False)
    assert len(index) == 24
    _, ids = index.neighbours_of(np.arange(3), 2)
    assert not (ids == np.arange(3)[:, None]).any()
    classifier = load_pretrained_backbone(out / "pretrain.pt").build_classifier(7)
    with torch.no_grad():
        assert classifier(torch.zeros(2, 1, 16, 16)).shape == (2, 7)

    longer = [*arguments]
    longer[longer.index("--epochs") + 1] = "2"
    assert main(longer) == 0  # resumes from the checkpoint: one more epoch
    assert load_embeddings(out)[1].epochs == 2


def test_min_steps_raises_the_epochs_of_a_small_pool(tmp_path, capsys) -> None:
    """24 faces in batches of 8 take 3 steps an epoch: a floor of 7 steps makes one epoch three."""
    out = tmp_path / "ssl"
    options = "--data 24 --format synthetic --model small_cnn --image-size 16 --epochs 1 --batch-size 8"
    arguments = ["pretrain", *options.split(), "--min-steps", "7", "--out", str(out), "--device", "cpu"]
    assert main(arguments) == 0
    assert "for 3 epochs (9 optimiser steps)" in capsys.readouterr().out
    assert load_embeddings(out)[1].epochs == 3
