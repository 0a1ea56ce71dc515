"""The one place where database rows become ``ml_engine`` inputs, and ``ml_engine`` outputs rows.

Everything else in ``annotator`` talks plain Python and Django; only this package imports
``ml_engine`` (import-linter checks it). This module holds what the request path needs (face
encoding, vote aggregation, imports) and the progress types services hand to jobs;
``cycles`` runs a cycle's training, scoring and selection for the workers (``training``,
``predictions``, ``selection``), ``pretraining`` the cold start, and ``exports`` writes label
sets and models. Nothing here imports torch at module level.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ml_engine.data.dataset import UNLABELED, FaceDataset, ImportProblem
from ml_engine.data.decoding import ImageDecodeError, decode_grayscale
from ml_engine.labels.aggregation import agreement, candidate_sets, majority_labels
from ml_engine.progress import (
    CancelFlag,
    Cancelled,
    Progress,
    ProgressCallback,
    ignore_progress,
    never_cancelled,
)

FACE_IDS_KEY = "item_ids"
"""The key under which stored predictions (``pool.npz``), a pre-training job's result and a model's
ranking name their faces' ids. Faces were called items when these were first written; the key
keeps that spelling so that files and rows already stored still read."""
FACE_IDS_FILE = f"{FACE_IDS_KEY}.npy"
"""The file beside a pre-training's pool embeddings that names the face of each embedding row."""

MAX_STORED_SIDE = 256
"""Faces larger than this are downscaled before storage; models train at 48 px anyway."""


@dataclass(frozen=True)
class EncodedFace:
    """A face ready to store: PNG bytes, the checksum of its pixels, and its size."""

    png: bytes
    sha256: str
    width: int
    height: int


def face_checksum(pixels: np.ndarray) -> str:
    """SHA-256 of the decoded grayscale pixels (with the shape), so duplicates match across formats."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    digest = hashlib.sha256(f"{pixels.shape[0]}x{pixels.shape[1]}:".encode())
    digest.update(pixels.tobytes())
    return digest.hexdigest()


def encode_pixels(pixels: np.ndarray) -> EncodedFace:
    """Shrink a grayscale face to at most :data:`MAX_STORED_SIDE` px and encode it as PNG."""
    image = Image.fromarray(np.asarray(pixels, dtype=np.uint8), mode="L")
    if max(image.size) > MAX_STORED_SIDE:
        image.thumbnail((MAX_STORED_SIDE, MAX_STORED_SIDE), Image.Resampling.LANCZOS)
    stored = np.asarray(image)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return EncodedFace(buffer.getvalue(), face_checksum(stored), image.width, image.height)


def encode_dataset_face(dataset: FaceDataset, index: int) -> EncodedFace:
    """Decode face ``index`` of an imported dataset and encode it for storage.

    Raises:
        ImageDecodeError: when the file cannot be decoded.
    """
    return encode_pixels(dataset.load_image(index))


def encode_upload(data: bytes) -> EncodedFace:
    """Decode one uploaded image file (any format PIL reads) and encode it for storage.

    Raises:
        ImageDecodeError: with a reason a user can act on.
    """
    return encode_pixels(decode_grayscale(data))


def read_dataset(path: str | os.PathLike[str], format: str | None, extract_to: Path | None) -> FaceDataset:
    """Read an import file or folder in any format ``ml_engine`` knows (sniffed when ``format`` is None)."""
    from ml_engine.data.importers import load_dataset

    options: dict[str, object] = {}
    if extract_to is not None and (format == "zip" or str(path).lower().endswith(".zip")):
        options["extract_to"] = extract_to
    return load_dataset(path, format, **options)


def names_every_class(dataset: FaceDataset) -> bool:
    """Whether every class ``dataset`` names must be a project class (Label Studio tasks)."""
    from ml_engine.data.importers.label_studio import LabelStudioTasks

    return isinstance(dataset, LabelStudioTasks)


def import_formats() -> list[str]:
    """Names of the formats :func:`read_dataset` accepts."""
    from ml_engine.data.importers import LOADERS

    return sorted(LOADERS)


def synthetic_faces(count: int, seed: int, image_size: int = 48) -> FaceDataset:
    """Deterministic synthetic faces with ground-truth labels, for the demo project."""
    from ml_engine.data.synthetic import generate_faces

    return generate_faces(count, seed=seed, size=image_size, votes_per_face=0)


def initial_random_set(face_ids: list[int], count: int, seed: int) -> list[int]:
    """``count`` of ``face_ids`` drawn uniformly at random, exactly as ``simulate`` draws them.

    ``face_ids`` must be the pool in id order: the faces' rows in a dataset exported in that
    order, so ``python -m ml_engine simulate`` with the project's seed starts from the same
    faces (:func:`ml_engine.cold_start.random_initial`, the one random draw of an initial
    set). Returns the chosen ids in id order. ``ml_engine.cold_start`` loads faiss, hence the
    import here rather than at the top.
    """
    from ml_engine.cold_start import random_initial

    return [face_ids[row] for row in random_initial(len(face_ids), count, seed).tolist()]


def representative_initial_set(
    embeddings_dir: Path, face_ids: list[int], count: int, method: str, seed: int
) -> list[int]:
    """``count`` of ``face_ids`` picked as representative on the pre-trained pool embeddings.

    ``embeddings_dir`` holds a pre-training's pool embeddings and :data:`FACE_IDS_FILE` naming
    each row's face; only the rows of ``face_ids`` (the pool faces still free to pick) are
    clustered. ``method`` is ``"kmeans"`` or ``"typiclust"`` (:mod:`ml_engine.cold_start`:
    Hacohen et al., ICML 2022, Eq. 4 for TypiClust), as ``simulate --initial-method`` picks.
    Returns the chosen ids in id order.
    """
    from ml_engine.cold_start import representative_initial
    from ml_engine.embeddings import load_embeddings

    vectors, _ = load_embeddings(embeddings_dir)
    rows_by_id = {int(face): row for row, face in enumerate(np.load(embeddings_dir / FACE_IDS_FILE).tolist())}
    free = [face for face in face_ids if face in rows_by_id]
    picks = representative_initial(
        np.asarray(vectors[[rows_by_id[face] for face in free]]),
        min(count, len(free)),
        method=method,
        seed=seed,
    )
    return sorted(free[row] for row in picks.tolist())


def aggregate_votes(class_votes: list[int], min_votes: int) -> tuple[int | None, list[int]]:
    """A face's label and candidate set from its per-class vote counts.

    The label is FERPlus' majority (more than half of the votes, ties give none; single
    votes count, as with one vote per face); the candidate set holds the classes with at
    least ``min_votes`` votes, falling back to the most-voted ones (seed 004 §3.1).
    """
    if not class_votes or sum(class_votes) == 0:
        return None, []
    table = np.asarray([class_votes], dtype=np.int64)
    label = int(majority_labels(table, min_count=1)[0])
    candidates = np.flatnonzero(candidate_sets(table, k=min_votes)[0]).tolist()
    return (None if label == UNLABELED else label), candidates


def vote_agreement(vote_table: list[list[int]]) -> dict[str, float | int | None]:
    """Percent agreement and Fleiss' kappa over faces with two or more votes (Fleiss 1971)."""
    if not vote_table:
        return {"percent_agreement": None, "fleiss_kappa": None, "faces": 0}
    result = agreement(np.asarray(vote_table, dtype=np.int64))

    def clean(value: float) -> float | None:
        return None if np.isnan(value) else round(float(value), 4)

    return {
        "percent_agreement": clean(result.percent_agreement),
        "fleiss_kappa": clean(result.fleiss_kappa),
        "faces": result.items,
    }


def faces_to_dataset(class_names: tuple[str, ...], rows: list[dict[str, object]]) -> FaceDataset:
    """Build a :class:`FaceDataset` over stored faces (paths, decoded on access).

    Each row carries ``id``, ``image`` (a local file of the face: ``annotator.file_store.local_copies``), ``split`` ("pool",
    "test" or "auxiliary"), ``label_index`` (aggregated; None when unlabeled), ``imported_label`` and
    ``class_votes``, and optionally ``confirmed_label`` (a pseudo-label an annotator
    confirmed, used when the face has no voted label) and ``reviewed_label`` (a reviewer's
    label, which replaces the label and the votes). Pool faces with a label become the
    ``train`` split; test faces use their imported label, or their voted one (a test sample
    reserved from the pool, labeled by votes).
    """
    labels, splits, votes = [], [], []
    for row in rows:
        if row["split"] == "test":
            label = row["imported_label"] if row["imported_label"] is not None else row["label_index"]
            if row["imported_label"] is None and row.get("reviewed_label") is not None:
                label = row["reviewed_label"]  # a voted test label a reviewer corrected
            labels.append(UNLABELED if label is None else int(label))
            splits.append("test")
        elif row["split"] == "auxiliary":
            labels.append(UNLABELED)  # never labeled: only the omni-supervised selection names a class
            splits.append("auxiliary")
        else:
            label = row["label_index"] if row["label_index"] is not None else row.get("confirmed_label")
            label = row["reviewed_label"] if row.get("reviewed_label") is not None else label
            labels.append(UNLABELED if label is None else int(label))
            splits.append("pool" if label is None else "train")
        counts = list(row["class_votes"] or [])
        if row.get("reviewed_label") is not None:  # a reviewer's label outweighs every vote
            counts = [int(index == row["reviewed_label"]) for index in range(len(class_names))]
        votes.append(counts + [0] * (len(class_names) - len(counts)))
    return FaceDataset(
        class_names=class_names,
        names=[str(row["id"]) for row in rows],
        images=[str(row["image"]) for row in rows],
        labels=np.asarray(labels, dtype=np.int64),
        splits=np.asarray(splits, dtype=object),
        votes=np.asarray(votes, dtype=np.int32).reshape(len(rows), len(class_names)),
    )


__all__ = [
    "FACE_IDS_FILE",
    "FACE_IDS_KEY",
    "CancelFlag",
    "Cancelled",
    "EncodedFace",
    "ImageDecodeError",
    "ImportProblem",
    "Progress",
    "ProgressCallback",
    "aggregate_votes",
    "encode_dataset_face",
    "encode_pixels",
    "encode_upload",
    "face_checksum",
    "faces_to_dataset",
    "ignore_progress",
    "import_formats",
    "initial_random_set",
    "names_every_class",
    "never_cancelled",
    "read_dataset",
    "synthetic_faces",
    "vote_agreement",
]
