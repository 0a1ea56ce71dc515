"""Learning from crowd votes on real faces: majority vs probability targets vs partial labels.

On the same random FER2013Train faces and their FERPlus votes (Barsoum et al., ICMI 2016),
four ways to turn votes into supervision train the same network with the same settings:

* ``fer2013``: the original single FER2013 label (noisy; no votes at all),
* ``majority``: FERPlus majority (single votes dropped, winner > half; no-majority faces
  are left out, as in FERPlus),
* ``probability``: cross-entropy against the vote distribution (single votes dropped;
  FERPlus' "crossentropy" scheme without its top-3 truncation),
* ``partial``: partial-label learning on candidate sets (classes with >= k votes),
  confidence initialised from the votes and revised during training (seed 004 Eq. 4-5 +
  RC; :mod:`ml_engine.training.partial_label`).

All are evaluated on FER2013Valid majority labels (nothing is selected on it: no early
stopping). Accuracy ratios are against ``majority`` measured in the same run.

    python bench/partial_labels.py                          # small CPU configuration
    python bench/partial_labels.py --device cuda --model resnet18 --stem imagenet \\
        --train-size 28000 --val-size 0 --epochs 20            # GPU scale
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch
from ferplus_subset import DEFAULT_ROOT, fer2013_labels, load_splits, mean_std, sample

from ml_engine.data.dataset import FaceDataset
from ml_engine.device import resolve_device
from ml_engine.evaluation import evaluate
from ml_engine.inference import predict
from ml_engine.labels import agreement, candidate_sets, dawid_skene, triples_from_counts, vote_distribution
from ml_engine.training import TrainConfig, fit
from ml_engine.training.partial_label import train_partial_label

METHODS = ("fer2013", "majority", "probability", "partial")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=str(DEFAULT_ROOT))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train-size", type=int, default=2000, help="FER2013Train faces per seed")
    parser.add_argument("--val-size", type=int, default=1500, help="FER2013Valid faces (0: all)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--model", default="small_cnn", choices=("small_cnn", "resnet18"))
    parser.add_argument("--width", type=int, default=16, help="small_cnn width")
    parser.add_argument("--stem", default="imagenet", help="resnet18 stem")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--candidate-k", type=int, default=1, help="candidate set: classes with >= k votes")
    parser.add_argument("--threshold", type=float, default=0.5, help="PLL top-2 gap for disambiguation")
    parser.add_argument("--warmup-epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    return parser.parse_args()


def _config(args: argparse.Namespace, seed: int) -> TrainConfig:
    kwargs = {"width": args.width} if args.model == "small_cnn" else {"stem": args.stem}
    return TrainConfig(
        model=args.model,
        model_kwargs=kwargs,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        schedule="onecycle",
        seed=seed,
    )


def _train(method: str, args: argparse.Namespace, train: FaceDataset, original: np.ndarray, seed: int):
    """Train one method; returns the model and the number of faces it trained on."""
    config, device = _config(args, seed), args.device
    if method == "fer2013":
        faces = replace(train.subset(np.flatnonzero(original >= 0)), labels=original[original >= 0])
        return fit(config, faces, device=device).model, len(faces)
    if method == "majority":
        return fit(config, train, device=device).model, int((train.labels >= 0).sum())
    if method == "probability":
        targets = vote_distribution(train.votes, min_count=2)
        return fit(config, train, device=device, targets=targets).model, int((targets.sum(1) > 0).sum())
    candidates = candidate_sets(train.votes, k=args.candidate_k)
    result = train_partial_label(
        config,
        train,
        candidates,
        votes=train.votes,
        threshold=args.threshold,
        warmup_epochs=args.warmup_epochs,
        device=device,
    )
    args.disambiguated.append(result.metrics["disambiguated"])
    return result.model, int(candidates.any(axis=1).sum())


def _describe_votes(train: FaceDataset, original: np.ndarray, k: int) -> None:
    votes, labels = train.votes, train.labels
    stats = agreement(votes)
    both = (labels >= 0) & (original >= 0)
    pooled = dawid_skene(*triples_from_counts(votes), train.num_classes, num_items=len(train))
    print(
        f"  votes: Fleiss' kappa {stats.fleiss_kappa:.3f}, pairwise agreement {stats.percent_agreement:.3f}; "
        f"majority label on {np.mean(labels >= 0):.1%} of faces; FER2013 label = majority on "
        f"{np.mean(original[both] == labels[both]):.1%}; mean candidate-set size (k={k}) "
        f"{candidate_sets(votes, k).sum(1).mean():.2f}; pooled Dawid-Skene = majority on "
        f"{np.mean(pooled.labels[labels >= 0] == labels[labels >= 0]):.1%}"
    )


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.device = resolve_device(args.device)
    args.disambiguated = []
    started = time.perf_counter()
    train_all, val_all = load_splits(args.data_root)
    val = sample(val_all, args.val_size or None, np.random.default_rng(12345))
    scores: dict[str, list[tuple[float, float]]] = {method: [] for method in METHODS}
    faces: dict[str, list[int]] = {method: [] for method in METHODS}
    seconds: dict[str, float] = dict.fromkeys(METHODS, 0.0)
    seeds = [int(seed) for seed in args.seeds.split(",")]
    print(
        f"FER+ partial labels: {args.train_size} train faces per seed, {len(val)} FER2013Valid faces, "
        f"{args.model}, {args.epochs} epochs, device {args.device}, threads {torch.get_num_threads()}, seeds {seeds}"
    )
    for seed in seeds:
        train = sample(train_all, args.train_size, np.random.default_rng(seed))
        original = fer2013_labels(args.data_root, train.names)
        _describe_votes(train, original, args.candidate_k)
        for method in METHODS:
            tick = time.perf_counter()
            model, count = _train(method, args, train, original, seed)
            outputs = predict(model, val, device=args.device)
            metrics = evaluate(val.labels, outputs.probabilities, val.class_names)
            seconds[method] += time.perf_counter() - tick
            scores[method].append((metrics.accuracy, metrics.macro_f1))
            faces[method].append(count)
            print(
                f"  seed {seed} {method:<11} acc {metrics.accuracy:.4f} macro-F1 {metrics.macro_f1:.4f}",
                flush=True,
            )
    _print_table(scores, faces, seconds, args)
    print(f"total {time.perf_counter() - started:.0f} s")


def _print_table(scores: dict, faces: dict, seconds: dict, args: argparse.Namespace) -> None:
    baseline = np.mean([accuracy for accuracy, _ in scores["majority"]])
    print("\n| method | train faces | val accuracy % | macro-F1 % | accuracy / majority | s per run |")
    print("|---|---|---|---|---|---|")
    for method in METHODS:
        accuracy = [value for value, _ in scores[method]]
        f1 = [value for _, value in scores[method]]
        runs = len(accuracy)
        print(
            f"| {method} | {np.mean(faces[method]):.0f} | {mean_std(accuracy)} | {mean_std(f1)} | "
            f"{np.mean(accuracy) / baseline:.3f} | {seconds[method] / runs:.0f} |"
        )
    if args.disambiguated:
        print(
            f"partial: {np.mean(args.disambiguated):.1%} of faces disambiguated (one-hot confidence) at the end"
        )


if __name__ == "__main__":
    main()
