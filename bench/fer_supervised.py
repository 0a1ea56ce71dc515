"""Supervised ResNet-18 on real faces: FER+ majority labels, 10% / 40% / 100% of FER2013Train.

Trains with ``fit`` on a nested random share of the labelled FER2013Train faces (FERPlus
majority scheme: Barsoum et al., ICMI 2016, §3.1; faces whose majority is unknown or
not-a-face are left out by the importer) and reports accuracy and macro-F1 on FER2013Valid.
Nothing is selected on FER2013Valid (no early stopping), so the numbers are not optimistic.

References printed with the table: the FERPlus paper's VGG-13 reaches ~83.85% with the
majority scheme (on FER2013Test, after long GPU training with heavier augmentation); the
design's plain ResNet-18 baseline (8 epochs, batch 64, one-cycle lr 0.05, flip + padded
crop) reached 80.2% on FER2013Valid. The defaults below repeat that recipe.

    python bench/fer_supervised.py [--device cuda] [--epochs 8] [--data-root ../shared/data/ferplus]
    python bench/fer_supervised.py --max-train 2000 --max-val 500 --epochs 1   # smoke run
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml_engine.data.dataset import FaceDataset
from ml_engine.data.importers import load_dataset
from ml_engine.device import resolve_device
from ml_engine.evaluation import evaluate
from ml_engine.inference import predict
from ml_engine.training import TrainConfig, fit

PAPER_VGG13_MAJORITY = 0.8385
DESIGN_RESNET18_BASELINE = 0.802


def labelled_split(
    dataset: FaceDataset, split: str, limit: int | None, rng: np.random.Generator
) -> FaceDataset:
    """The labelled faces of ``split``, at most ``limit`` of them (a random sample), decoded into memory."""
    faces = dataset.split(split)
    rows = np.flatnonzero(faces.labels >= 0)
    if limit is not None and limit < len(rows):
        rows = np.sort(rng.choice(rows, limit, replace=False))
    faces = faces.subset(rows)
    pixels = np.stack([faces.load_image(i, 48) for i in range(len(faces))])
    return FaceDataset(faces.class_names, faces.names, pixels, faces.labels, faces.splits, faces.votes)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-root", default=str(Path(__file__).resolve().parents[2] / "shared/data/ferplus")
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--fractions", default="0.1,0.4,1.0", help="shares of the labelled train faces")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--schedule", default="onecycle", choices=("onecycle", "cosine", "constant"))
    parser.add_argument("--stem", default="imagenet", choices=("imagenet", "compact", "cifar"))
    parser.add_argument("--max-rotation", type=float, default=10.0)
    parser.add_argument("--max-train", type=int, default=None, help="use at most this many train faces")
    parser.add_argument("--max-val", type=int, default=None, help="evaluate on at most this many faces")
    parser.add_argument("--workers", type=int, default=4, help="DataLoader workers (CUDA only)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    return parser.parse_args()


def run_fraction(args: argparse.Namespace, train: FaceDataset, val: FaceDataset, fraction: float) -> dict:
    """Train on the first ``fraction`` of ``train`` (already shuffled) and evaluate on ``val``."""
    count = max(1, round(fraction * len(train)))
    subset = train.subset(np.arange(count))
    config = TrainConfig(
        model="resnet18",
        model_kwargs={"stem": args.stem},
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        schedule=args.schedule,
        max_rotation=args.max_rotation,
        seed=args.seed,
        num_workers=args.workers,
    )
    started = time.perf_counter()
    result = fit(config, subset, device=args.device)
    seconds = time.perf_counter() - started
    outputs = predict(result.model, val, device=args.device)
    metrics = evaluate(val.labels, outputs.probabilities, val.class_names)
    return {
        "fraction": fraction,
        "faces": count,
        "accuracy": metrics.accuracy,
        "macro_f1": metrics.macro_f1,
        "minutes": seconds / 60,
        "images_per_second": result.metrics["images_per_second"],
    }


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    args.device = device
    rng = np.random.default_rng(args.seed)
    loading = time.perf_counter()
    dataset = load_dataset(args.data_root, "ferplus", verify=False)
    train = labelled_split(dataset, "train", args.max_train, rng)
    train = train.subset(rng.permutation(len(train)))  # nested shares: 10% is inside 40%
    val = labelled_split(dataset, "val", args.max_val, rng)
    counts = np.bincount(val.labels, minlength=val.num_classes)
    print(
        f"FER+ majority labels: {len(train)} train faces, {len(val)} FER2013Valid faces "
        f"(loaded in {time.perf_counter() - loading:.0f} s); device {device}, torch threads "
        f"{torch.get_num_threads()}; ResNet-18 {args.stem} stem, {args.epochs} epochs, batch {args.batch_size}, "
        f"{args.schedule} lr {args.lr}\nmajority-class accuracy on this val set: {counts.max() / counts.sum():.4f}"
    )
    print(f"{'labels':>7} {'faces':>6} {'val acc':>8} {'macro-F1':>8} {'minutes':>8} {'img/s':>7}")
    for fraction in (float(share) for share in args.fractions.split(",")):
        row = run_fraction(args, train, val, fraction)
        print(
            f"{row['fraction']:>7.0%} {row['faces']:>6} {row['accuracy']:>8.4f} {row['macro_f1']:>8.4f} "
            f"{row['minutes']:>8.1f} {row['images_per_second']:>7.0f}",
            flush=True,
        )
    print(
        f"references: FERPlus paper VGG-13 (majority) ~{PAPER_VGG13_MAJORITY:.2%}; design's plain ResNet-18 "
        f"baseline {DESIGN_RESNET18_BASELINE:.1%} on FER2013Valid (8 epochs, all labels)"
    )


if __name__ == "__main__":
    main()
