"""Synthetic faces for the demo, the tests and fair benchmarks: deterministic by seed.

Faces are drawn from facial action units (:mod:`ml_engine.data.expressions`) on varied
identities, poses, lighting and occlusions (:mod:`ml_engine.data.face_params`,
:mod:`ml_engine.data.face_drawing`), and labelled by simulated annotators who confuse
look-alike expressions (:mod:`ml_engine.data.annotators`). No file needs downloading.

Command line (writes ``face_00000.png``..., ``manifest.csv`` and, with votes,
``annotator_votes.csv``)::

    python -m ml_engine.data.synthetic --out DIR --n 500 --seed 0 [--size 48]
        [--votes-per-face 10] [--imbalance raf|uniform] [--contempt]
"""

from __future__ import annotations

import argparse
import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import numpy as np
from PIL import Image

from ml_engine.data.annotators import AnnotatorVotes, simulate_votes
from ml_engine.data.dataset import FaceDataset
from ml_engine.data.expressions import EIGHT_CLASSES, SEVEN_CLASSES, class_proportions, sample_expressions
from ml_engine.data.face_drawing import render_face
from ml_engine.data.face_params import OCCLUSIONS, Difficulty, sample_face_parameters

__all__ = ["Difficulty", "SyntheticFaces", "generate_faces", "simulate_votes", "write_synthetic"]


@dataclass
class SyntheticFaces(FaceDataset):
    """A :class:`FaceDataset` (pixels in memory, labels = true classes) plus the manifest.

    Attributes:
        intensity: expression intensity in [0, 1] per face.
        blend_class: the second class mixed in, ``-1`` for none.
        blend_weight: its weight in [0, 0.45] (the true class always dominates).
        parameters: identity, pose and imaging parameters, one array per name.
        annotator_votes: per-vote records (``None`` without simulated votes).
    """

    intensity: np.ndarray = field(default_factory=lambda: np.zeros(0))
    blend_class: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    blend_weight: np.ndarray = field(default_factory=lambda: np.zeros(0))
    parameters: dict[str, np.ndarray] = field(default_factory=dict)
    annotator_votes: AnnotatorVotes | None = None

    def subset(self, indices: Sequence[int] | np.ndarray) -> Self:
        """The faces at ``indices`` with their manifest rows and votes."""
        idx = np.asarray(indices, dtype=np.int64)
        base = FaceDataset.subset(self, idx)
        base.intensity = self.intensity[idx]
        base.blend_class = self.blend_class[idx]
        base.blend_weight = self.blend_weight[idx]
        base.parameters = {name: values[idx] for name, values in self.parameters.items()}
        base.annotator_votes = None if self.annotator_votes is None else self.annotator_votes.for_faces(idx)
        return base


def generate_faces(
    n: int,
    seed: int,
    size: int = 48,
    *,
    votes_per_face: int = 10,
    imbalance: str = "raf",
    contempt: bool = False,
    split: str = "train",
    difficulty: Difficulty | None = None,
    blend_probability: float = 0.35,
    min_intensity: float = 0.3,
    supersample: int = 3,
) -> SyntheticFaces:
    """Generate ``n`` faces; the same arguments always give the same pixels and votes.

    Args:
        n: number of faces.
        seed: the one seed; faces, votes and noise use separate streams derived from it,
            so changing ``votes_per_face`` does not change the faces.
        size: side of the square grayscale faces.
        votes_per_face: simulated annotators per face (0 for no votes).
        imbalance: ``"raf"`` (RAF-DB-like class shares) or ``"uniform"``.
        contempt: add contempt as an eighth class (FERPlus's class list).
        split: the split every face is put in.
        difficulty: nuisance-factor strength (pose, imaging, occlusion).
        blend_probability: share of faces mixing in a second expression.
        min_intensity: lower end of the expression intensity range.
        supersample: faces are drawn this many times larger, then box-reduced (anti-aliasing).
    """
    class_names = EIGHT_CLASSES if contempt else SEVEN_CLASSES
    master = np.random.default_rng(seed)
    expressions = sample_expressions(
        master,
        n,
        class_names,
        class_proportions(class_names, imbalance),
        blend_probability=blend_probability,
        min_intensity=min_intensity,
    )
    parameters = sample_face_parameters(master, n, difficulty or Difficulty())
    images = _render_all(parameters, expressions.action_units, seed, size, supersample)
    votes = None
    if votes_per_face > 0:
        votes = simulate_votes(
            expressions.labels,
            expressions.intensity,
            expressions.blend_class,
            expressions.blend_weight,
            class_names,
            votes_per_face,
            np.random.default_rng([seed, 1]),
            occluded=parameters["occlusion"] > 0,
        )
    return SyntheticFaces(
        class_names=class_names,
        names=[f"face_{i:05d}.png" for i in range(n)],
        images=images,
        labels=expressions.labels,
        splits=np.full(n, split, dtype=object),
        votes=None if votes is None else votes.counts,
        intensity=expressions.intensity,
        blend_class=expressions.blend_class,
        blend_weight=expressions.blend_weight,
        parameters=parameters,
        annotator_votes=votes,
    )


def _render_all(
    parameters: dict[str, np.ndarray], action_units: np.ndarray, seed: int, size: int, supersample: int
) -> np.ndarray:
    """Draw every face; each face's pixel noise has its own stream, spawned from ``seed``."""
    images = np.empty((len(action_units), size, size), dtype=np.uint8)
    noise_seeds = np.random.SeedSequence([seed, 2]).spawn(len(action_units))
    for i, noise_seed in enumerate(noise_seeds):
        row = {name: float(values[i]) for name, values in parameters.items()}
        images[i] = render_face(row, action_units[i], size, supersample, np.random.default_rng(noise_seed))
    return images


def write_synthetic(faces: SyntheticFaces, out: str | os.PathLike[str]) -> Path:
    """Write the faces as PNGs, ``manifest.csv`` and (with votes) ``annotator_votes.csv``; return the manifest path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, image in zip(faces.names, faces.images, strict=True):
        Image.fromarray(image).save(out / name)
    names = faces.class_names
    header = ["file", "true_class", "intensity", "blend_class", "blend_weight", *faces.parameters]
    header += [f"votes_{name}" for name in names] if faces.votes is not None else []
    with open(out / "manifest.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i, name in enumerate(faces.names):
            blend = names[faces.blend_class[i]] if faces.blend_class[i] >= 0 else ""
            row = [
                name,
                names[faces.labels[i]],
                f"{faces.intensity[i]:.4f}",
                blend,
                f"{faces.blend_weight[i]:.4f}",
            ]
            row += [_format_parameter(key, values[i]) for key, values in faces.parameters.items()]
            row += [] if faces.votes is None else faces.votes[i].tolist()
            writer.writerow(row)
    if faces.annotator_votes is not None:
        _write_annotator_votes(faces, out / "annotator_votes.csv")
    return out / "manifest.csv"


def _format_parameter(name: str, value: float) -> str:
    if name == "occlusion":
        return OCCLUSIONS[int(value)]
    return str(int(value)) if name == "hair_style" else f"{value:.4f}"


def _write_annotator_votes(faces: SyntheticFaces, path: Path) -> None:
    votes = faces.annotator_votes
    if votes is None:
        raise ValueError("these faces have no simulated votes to write")
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["annotator", "file", "class"])
        for annotator, face, label in zip(votes.annotator, votes.face, votes.label, strict=True):
            writer.writerow([int(annotator), faces.names[face], faces.class_names[label]])


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point: generate faces and write them to ``--out``."""
    parser = argparse.ArgumentParser(
        prog="python -m ml_engine.data.synthetic", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument("--n", type=int, required=True, help="number of faces")
    parser.add_argument("--seed", type=int, required=True, help="random seed; same seed, same bytes")
    parser.add_argument("--size", type=int, default=48, help="image side in pixels (default 48)")
    parser.add_argument(
        "--votes-per-face", type=int, default=10, help="simulated annotators per face (0: none)"
    )
    parser.add_argument("--imbalance", choices=("raf", "uniform"), default="raf", help="class shares")
    parser.add_argument("--contempt", action="store_true", help="add contempt as an eighth class")
    args = parser.parse_args(argv)
    faces = generate_faces(
        args.n,
        args.seed,
        args.size,
        votes_per_face=args.votes_per_face,
        imbalance=args.imbalance,
        contempt=args.contempt,
    )
    manifest = write_synthetic(faces, args.out)
    print(f"wrote {args.n} faces and {manifest}")


if __name__ == "__main__":
    main()
