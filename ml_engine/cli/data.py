"""Dataset options shared by the train, evaluate and predict commands."""

from __future__ import annotations

import argparse

import numpy as np

from ml_engine.data.dataset import FaceDataset

FORMAT_ALIASES = {"fer2013": "fer2013_csv", "imagefolder": "image_folder"}
FORMATS = (
    "fer2013",
    "fer2013_csv",
    "ferplus",
    "imagefolder",
    "image_folder",
    "rafdb",
    "folder",
    "zip",
    "synthetic",
)


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """``--data``, ``--format`` and ``--synthetic-seed``."""
    parser.add_argument(
        "--data", required=True, help="dataset file or folder; with --format synthetic, the number of faces"
    )
    parser.add_argument("--format", choices=FORMATS, default=None, help="dataset format (default: detected)")
    parser.add_argument(
        "--synthetic-seed", type=int, default=0, help="seed of generated faces (--format synthetic)"
    )


def load_cli_dataset(args: argparse.Namespace) -> FaceDataset:
    """Import ``--data`` (via the importers) or generate synthetic faces, and report problems."""
    if args.format == "synthetic":
        from ml_engine.data.synthetic import generate_faces

        return generate_faces(int(args.data), args.synthetic_seed)
    from ml_engine.data.importers import load_dataset

    dataset = load_dataset(args.data, FORMAT_ALIASES.get(args.format, args.format))
    for problem in dataset.problems:
        print(f"skipped {problem.source}: {problem.reason}")
    return dataset


def select_split(dataset: FaceDataset, names: tuple[str, ...]) -> tuple[FaceDataset, str]:
    """The first non-empty split of ``names``, or the whole dataset (named "all")."""
    for name in names:
        if np.any(dataset.splits == name):
            return dataset.split(name), name
    return dataset, "all"


def hold_out(dataset: FaceDataset, fraction: float, seed: int) -> tuple[FaceDataset, FaceDataset]:
    """Split labelled faces at random into (train, validation) with ``fraction`` held out."""
    labelled = np.flatnonzero(dataset.labels >= 0)
    order = np.random.default_rng(seed).permutation(labelled)
    count = round(fraction * len(order))
    return dataset.subset(np.sort(order[count:])), dataset.subset(np.sort(order[:count]))
