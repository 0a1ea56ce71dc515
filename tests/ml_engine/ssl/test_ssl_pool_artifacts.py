"""Early embeddings: the pool embedded by the backbone of the first epoch past a step count, handed over
while pre-training goes on, and never after its last epoch."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ml_engine.embeddings import compute_embeddings, load_embeddings
from ml_engine.ssl import load_pretrained_backbone
from ml_engine.ssl.pool_artifacts import CHECKPOINT_FILE, EARLY_DIR, EarlyEmbeddings, pretrain_pool
from tests.ml_engine.ssl.test_ssl_pretrain import tiny_config, tiny_pool


def test_the_pool_is_embedded_by_the_backbone_of_the_first_epoch_past_the_steps(tmp_path: Path) -> None:
    pool = tiny_pool()  # 24 faces in batches of 8: 3 steps an epoch
    handed: list[tuple[int, np.ndarray, np.ndarray]] = []

    def ready(folder: Path) -> None:
        vectors, metadata = load_embeddings(folder, expected_names=pool.names)
        # The checkpoint on disk is the epoch just finished: its backbone must give these vectors.
        backbone = load_pretrained_backbone(tmp_path / CHECKPOINT_FILE).build_classifier(2).backbone
        again = compute_embeddings(backbone, pool, image_size=16)
        handed.append((metadata.epochs, np.array(vectors), again))

    artefacts = pretrain_pool(
        tiny_config(epochs=4), pool, tmp_path, device="cpu", early=EarlyEmbeddings(after_steps=4, ready=ready)
    )
    assert [epochs for epochs, _, _ in handed] == [2]  # 2 epochs = 6 steps, the first at or past 4
    np.testing.assert_allclose(handed[0][1], handed[0][2], rtol=1e-5, atol=1e-6)
    final, metadata = load_embeddings(artefacts.embeddings_dir)
    assert metadata.epochs == 4 and not np.allclose(final, handed[0][1])  # two more epochs moved them
    assert not (tmp_path / EARLY_DIR).exists()
    # Embedding mid-run leaves the pre-training as it would have been without.
    alone = pretrain_pool(tiny_config(epochs=4), pool, tmp_path / "alone", device="cpu")
    np.testing.assert_array_equal(load_embeddings(alone.embeddings_dir)[0], final)


def test_nothing_is_handed_over_when_the_steps_are_only_reached_at_the_end(tmp_path: Path) -> None:
    handed: list[Path] = []
    pretrain_pool(
        tiny_config(epochs=2), tiny_pool(), tmp_path, device="cpu", early=EarlyEmbeddings(6, handed.append)
    )
    assert handed == []  # the final embeddings serve: picking "early" at the end would gain nothing
