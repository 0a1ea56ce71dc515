"""Pool embeddings: shape, determinism, memory-mapped storage with metadata."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ml_engine.data.dataset import FaceDataset
from ml_engine.embeddings import (
    EmbeddingsMetadata,
    compute_embeddings,
    embed_pool,
    load_embeddings,
    names_digest,
)
from ml_engine.models import create_model


def pool(count: int = 20, size: int = 16) -> FaceDataset:
    images = np.random.default_rng(0).integers(0, 256, size=(count, size, size), dtype=np.uint8)
    return FaceDataset(
        ("a",), [f"f{i}" for i in range(count)], images, np.full(count, -1), np.array(["pool"] * count)
    )


def backbone(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return create_model("small_cnn", 1, width=8).backbone


def metadata(faces: FaceDataset) -> EmbeddingsMetadata:
    return EmbeddingsMetadata(
        count=len(faces),
        dim=32,
        model_name="small_cnn",
        model_kwargs={"width": 8},
        image_size=16,
        names_sha256=names_digest(faces.names),
        method="simclr",
        epochs=1,
        checkpoint_sha256="abc",
    )


def test_same_weights_give_the_same_embeddings_whatever_the_batching() -> None:
    faces, network = pool(), backbone()
    network.train()
    first = compute_embeddings(network, faces, image_size=16, batch_size=7)
    second = compute_embeddings(backbone(), faces, image_size=16, batch_size=20)
    assert first.shape == (20, 32) and first.dtype == np.float32
    np.testing.assert_allclose(first, second, atol=1e-5)
    assert network.training  # mode restored
    assert not np.allclose(first, compute_embeddings(backbone(seed=1), faces, image_size=16))


def test_embed_pool_writes_a_memory_map_and_metadata(tmp_path) -> None:
    faces, network = pool(), backbone()
    embed_pool(tmp_path, network, faces, metadata(faces), image_size=16, batch_size=6)
    vectors, stored = load_embeddings(tmp_path, expected_names=faces.names)
    assert isinstance(vectors, np.memmap) and vectors.shape == (20, 32)
    np.testing.assert_allclose(vectors, compute_embeddings(network, faces, image_size=16), atol=1e-6)
    assert stored == metadata(faces)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["embeddings.json", "embeddings.npy"]


def test_embeddings_of_another_pool_are_refused(tmp_path) -> None:
    faces = pool()
    embed_pool(tmp_path, backbone(), faces, metadata(faces), image_size=16)
    with pytest.raises(ValueError, match="different set of faces"):
        load_embeddings(tmp_path, expected_names=[*faces.names[:-1], "other"])
