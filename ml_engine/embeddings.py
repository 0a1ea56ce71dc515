"""Pool embeddings on disk: one float32 ``.npy`` read memory-mapped, plus a small JSON.

The web app, the faiss index, Core-Set and cold-start selection all need the pool's
feature vectors; a database row per number would not scale to 100k+ faces. The vectors are
written straight into a memory-mapped ``.npy`` batch by batch (bounded memory for any pool
size) under a temporary name and renamed into place only when complete, then described by
``embeddings.json``: which network made them (model, its options, SSL method, epochs, the
checkpoint's SHA-256 as the version) and a hash of the face names, so stale files are caught.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from ml_engine.atomic_write import atomic_path, write_text_atomically
from ml_engine.data.dataset import FaceDataset
from ml_engine.data.transforms import FaceTensorDataset, eval_transform
from ml_engine.device import resolve_device
from ml_engine.progress import CancelFlag, Cancelled, Progress, ProgressCallback

VECTORS_FILE = "embeddings.npy"
METADATA_FILE = "embeddings.json"


@dataclass(frozen=True)
class EmbeddingsMetadata:
    """What the stored vectors are and where they came from.

    Attributes:
        count: number of faces (rows).
        dim: embedding size (columns).
        model_name: ``create_model`` name of the backbone.
        model_kwargs: its ``create_model`` options.
        image_size: side the faces were resized to.
        names_sha256: SHA-256 of the face names in row order (detects a changed pool).
        method: SSL method that trained the backbone ("" for none).
        epochs: pre-training epochs.
        checkpoint_sha256: SHA-256 of the checkpoint file: the model version.
        extra: anything else the caller wants recorded.
    """

    count: int
    dim: int
    model_name: str
    model_kwargs: dict[str, Any]
    image_size: int
    names_sha256: str
    method: str = ""
    epochs: int = 0
    checkpoint_sha256: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def names_digest(names: list[str]) -> str:
    """SHA-256 over the face names, in order."""
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode("utf-8") + b"\0")
    return digest.hexdigest()


def file_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@torch.no_grad()
def compute_embeddings(
    backbone: nn.Module,
    dataset: FaceDataset,
    *,
    image_size: int = 48,
    device: str | torch.device = "cpu",
    batch_size: int = 256,
    out: np.ndarray | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelFlag | None = None,
) -> np.ndarray:
    """Backbone features of every face, in dataset order, with the test-time transform.

    The backbone runs in eval mode (BatchNorm uses its running statistics), so a face's
    vector does not depend on which other faces share its batch; the module's mode is
    restored afterwards.

    Args:
        backbone: maps ``(B, 1, S, S)`` normalised faces to ``(B, D)`` features.
        dataset: the faces.
        image_size: side ``S``.
        device: where to run ("auto" picks CUDA when present).
        batch_size: faces per forward pass.
        out: optional ``(N, D)`` float32 array (e.g. a memory map) to write into.
        progress: called after each batch with ``Progress(stage="embed")``.
        cancel: checked before each batch; raises :class:`Cancelled` when set.

    Returns:
        ``out`` (or a new array), ``(N, D)`` float32.
    """
    device = resolve_device(device)
    loader = DataLoader(
        FaceTensorDataset(dataset, eval_transform(image_size), image_size),
        batch_size=batch_size,
        shuffle=False,
        pin_memory=device.type == "cuda",
    )
    was_training = backbone.training
    backbone.eval().to(device)
    chunks: list[np.ndarray] = []
    try:
        for step, (images, _, index) in enumerate(loader):
            if cancel is not None and cancel():
                raise Cancelled(f"embedding cancelled at batch {step + 1} of {len(loader)}")
            features = backbone(images.to(device, non_blocking=True)).float().cpu().numpy()
            if out is None:
                chunks.append(features)
            else:
                out[int(index[0]) : int(index[-1]) + 1] = features
            if progress is not None:
                progress(Progress("embed", 1, 1, step + 1, len(loader)))
    finally:
        backbone.train(was_training)
    if out is not None:
        return out
    return np.concatenate(chunks) if chunks else np.zeros((0, 0), dtype=np.float32)


def _write_json_atomic(payload: dict[str, Any], path: Path) -> None:
    write_text_atomically(path, json.dumps(payload, indent=2, sort_keys=True))


def embed_pool(
    directory: str | os.PathLike[str],
    backbone: nn.Module,
    dataset: FaceDataset,
    metadata: EmbeddingsMetadata,
    **options: Any,
) -> Path:
    """Compute the pool's embeddings straight into ``directory/embeddings.npy`` (+ JSON).

    ``metadata.count`` and ``metadata.dim`` must describe the result; ``options`` go to
    :func:`compute_embeddings`. Returns the vectors' path.
    """
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    shape = (metadata.count, metadata.dim)
    with atomic_path(target / VECTORS_FILE) as temporary:
        vectors = np.lib.format.open_memmap(temporary, mode="w+", dtype=np.float32, shape=shape)
        compute_embeddings(backbone, dataset, out=vectors, **options)
        vectors.flush()
        del vectors
    _write_json_atomic(asdict(metadata), target / METADATA_FILE)
    return target / VECTORS_FILE


def save_embeddings(
    directory: str | os.PathLike[str], vectors: np.ndarray, metadata: EmbeddingsMetadata
) -> Path:
    """Write already computed ``(N, D)`` vectors and their metadata (atomically)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.shape != (metadata.count, metadata.dim):
        raise ValueError(
            f"vectors have shape {vectors.shape}, metadata says {(metadata.count, metadata.dim)}"
        )
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    with atomic_path(target / VECTORS_FILE) as temporary, open(temporary, "wb") as handle:
        np.save(handle, vectors)
    _write_json_atomic(asdict(metadata), target / METADATA_FILE)
    return target / VECTORS_FILE


def load_embeddings(
    directory: str | os.PathLike[str], *, expected_names: list[str] | None = None
) -> tuple[np.ndarray, EmbeddingsMetadata]:
    """The stored vectors (read-only memory map) and their metadata.

    Raises:
        ValueError: the vectors disagree with the metadata, or ``expected_names`` (the current
            pool, in row order) differ from the names the vectors were computed for.
    """
    source = Path(directory)
    metadata = EmbeddingsMetadata(**json.loads((source / METADATA_FILE).read_text()))
    vectors = np.load(source / VECTORS_FILE, mmap_mode="r")
    if vectors.shape != (metadata.count, metadata.dim) or vectors.dtype != np.float32:
        raise ValueError(f"{source}: vectors {vectors.shape} {vectors.dtype} disagree with the metadata")
    if expected_names is not None and names_digest(expected_names) != metadata.names_sha256:
        raise ValueError(f"{source}: embeddings were computed for a different set of faces")
    return vectors, metadata
