"""Is the synthetic face generator a fair test bed? Train on 5,000 faces, test on 1,000 held out.

Prints, for the same generated data:

* chance level (always predicting the most frequent training class);
* a linear classifier on raw pixels (multinomial logistic regression, full-batch L-BFGS,
  L2 strength chosen on a 10% split of the training faces);
* ResNet-18 (``create_model("resnet18")``: torchvision's network, ImageNet stem, one input
  channel) trained by ``ml_engine.training.fit`` (SGD, padded crop + flip + small rotation,
  one-cycle schedule), scored by ``ml_engine.inference.predict``;
* generation speed, and the 10-vote tables' top-vote share against FERPlus's real one
  (when ../shared/data/ferplus is present).

The generator is well calibrated when ResNet-18 lands well below 100% but far above chance
and the linear model is clearly worse. Measured on 2026-11-23 (CPU, 8 epochs): chance 0.394,
linear 0.473, ResNet-18 0.899 (macro-F1 0.861), about the 90.8% on which the 10 simulated
votes' plurality names the true class.

    python bench/synthetic_difficulty.py [--train 5000] [--test 1000] [--epochs 8] [--seed 0] [--threads N]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from itertools import pairwise
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ml_engine.data.synthetic import SyntheticFaces, generate_faces
from ml_engine.evaluation import evaluate
from ml_engine.inference import predict
from ml_engine.progress import Progress
from ml_engine.training import TrainConfig, fit

FERPLUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "ferplus"
SHARE_BINS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01)


def standardise(train: np.ndarray, test: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Flatten pixels and standardise each by the training mean and spread."""
    x_train = torch.from_numpy(train.reshape(len(train), -1).astype(np.float32))
    x_test = torch.from_numpy(test.reshape(len(test), -1).astype(np.float32))
    mean, std = x_train.mean(0), x_train.std(0) + 1e-3
    return (x_train - mean) / std, (x_test - mean) / std


def fit_logistic(x: torch.Tensor, y: torch.Tensor, classes: int, l2: float) -> nn.Linear:
    """Multinomial logistic regression, full batch, L-BFGS on cross-entropy + l2 * ||W||^2."""
    model = nn.Linear(x.shape[1], classes)
    optimiser = torch.optim.LBFGS(
        model.parameters(), max_iter=100, history_size=20, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = F.cross_entropy(model(x), y) + l2 * model.weight.pow(2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return model


def linear_accuracy(train: SyntheticFaces, test: SyntheticFaces) -> tuple[float, float]:
    """Test accuracy of the logistic regression and the L2 strength picked on a validation split."""
    x_train, x_test = standardise(train.images, test.images)
    y_train, y_test = torch.from_numpy(train.labels), torch.from_numpy(test.labels)
    cut = int(0.9 * len(x_train))
    scores = {}
    for l2 in (1e-3, 1e-2):
        model = fit_logistic(x_train[:cut], y_train[:cut], train.num_classes, l2)
        with torch.no_grad():
            scores[l2] = (model(x_train[cut:]).argmax(1) == y_train[cut:]).float().mean().item()
    best = max(scores, key=scores.get)
    model = fit_logistic(x_train, y_train, train.num_classes, best)
    with torch.no_grad():
        return (model(x_test).argmax(1) == y_test).float().mean().item(), best


def _print_epoch(progress: Progress) -> None:
    """Show each finished epoch on stderr (a CPU run takes minutes)."""
    if progress.metrics:
        accuracy = progress.metrics.get("train_accuracy", float("nan"))
        print(
            f"  epoch {progress.epoch}/{progress.epochs}: train accuracy {accuracy:.3f}",
            file=sys.stderr,
            flush=True,
        )


def resnet_accuracy(train: SyntheticFaces, test: SyntheticFaces, epochs: int) -> tuple[float, float, float]:
    """Held-out accuracy and macro-F1 of ResNet-18 trained by :func:`ml_engine.training.fit`, and its speed.

    Batch 32 with a one-cycle schedule peaking at lr 0.03 (close to the design's calibrated CPU
    recipe, with more steps because 5,000 faces make few batches of 64). No validation set:
    the held-out faces must not choose the epoch.
    """
    config = TrainConfig(model="resnet18", epochs=epochs, batch_size=32, lr=0.03, schedule="onecycle", seed=0)
    result = fit(config, train, progress=_print_epoch)
    outputs = predict(result.model, test, image_size=config.image_size)
    metrics = evaluate(test.labels, outputs.probabilities, test.class_names)
    return metrics.accuracy, metrics.macro_f1, result.metrics["images_per_second"]


def share_histogram(votes: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Distribution of the top class's share of a face's votes, in :data:`SHARE_BINS`."""
    share = votes.max(axis=1) / np.maximum(totals, 1)
    return np.histogram(share, bins=SHARE_BINS)[0] / len(votes)


def ferplus_votes() -> np.ndarray | None:
    """All ten vote columns of FERPlus train + valid, or ``None`` when the folder is absent."""
    rows = []
    for split in ("FER2013Train", "FER2013Valid"):
        path = FERPLUS / split / "label.csv"
        if path.is_file():
            with open(path, newline="") as handle:
                rows += [[int(cell) for cell in row[2:]] for row in csv.reader(handle) if row]
    return np.array(rows) if rows else None


def print_vote_tables(train: SyntheticFaces) -> None:
    bins = "  ".join(f"{low:.1f}-{high:.1f}"[:7] for low, high in pairwise(SHARE_BINS))
    print(f"top-vote share per face     {bins}   mean   classes>=1 vote  >=2 votes")
    tables = [("synthetic (10 votes)", train.votes, train.votes.sum(1))]
    real = ferplus_votes()
    if real is not None:
        tables.append(("FERPlus train+valid", real[:, :8], real.sum(1)))
    for name, votes, totals in tables:
        hist = "  ".join(f"{value:7.3f}" for value in share_histogram(votes, totals))
        mean_share = (votes.max(1) / totals).mean()
        print(
            f"{name:26s}  {hist}  {mean_share:.3f}  {(votes >= 1).sum(1).mean():15.2f}  {(votes >= 2).sum(1).mean():9.2f}"
        )
    agree = (train.votes.argmax(1) == train.labels).mean()
    print(f"synthetic: plurality vote equals the true class on {agree:.1%} of faces")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=5000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=torch.get_num_threads(), help="1 is faster on a busy machine"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start, cpu_start = time.perf_counter(), time.process_time()
    train = generate_faces(args.train, args.seed)
    generation, generation_cpu = time.perf_counter() - start, time.process_time() - cpu_start
    test = generate_faces(args.test, args.seed + 10_000, split="test", votes_per_face=0)
    print(
        f"generated {args.train} faces in {generation:.1f} s wall, {generation_cpu:.1f} s CPU "
        f"({args.train / generation_cpu:.0f} faces per CPU second)"
    )
    print_vote_tables(train)
    chance = np.bincount(test.labels, minlength=test.num_classes)[np.bincount(train.labels).argmax()] / len(
        test
    )
    start = time.perf_counter()
    linear, l2 = linear_accuracy(train, test)
    linear_seconds, start = time.perf_counter() - start, time.perf_counter()
    resnet, resnet_f1, speed = resnet_accuracy(train, test, args.epochs)
    resnet_seconds = time.perf_counter() - start
    print(f"held-out accuracy on {args.test} faces ({test.num_classes} classes)")
    print(f"  chance (most frequent class)        {chance:.3f}")
    print(
        f"  linear on raw pixels (l2={l2:g})     {linear:.3f}   {linear_seconds:5.0f} s   ratio to ResNet {linear / resnet:.2f}"
    )
    print(
        f"  ResNet-18 via fit, {args.epochs} epochs        {resnet:.3f}   {resnet_seconds:5.0f} s   "
        f"macro-F1 {resnet_f1:.3f}, {speed:.0f} train img/s"
    )


if __name__ == "__main__":
    main()
