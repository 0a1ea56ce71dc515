"""A first batch picked before pre-training ends: what it costs against waiting; kNN accuracy against steps.

A project with a representative first batch (TypiClust, the default) makes its labelers wait
for the whole pre-training, since the picks need the pool's embeddings. Picking on an early
epoch's embeddings instead lets labeling start sooner. This bench measures what that costs, on
FER+ (``../shared/data/ferplus``, never copied into the repository):

1. SimCLR on ``--pool`` FER2013Train faces (batch ``--batch-size``) for ``--pretrain-epochs``,
   one run, its schedule fixed in advance as the app's is. After every epoch the backbone's
   embeddings of the pool and of FER2013Valid give the weighted kNN accuracy
   (``ml_engine.ssl.quality.knn_accuracy``, majority labels, used only to measure): the
   curve of embedding quality against optimiser steps.
2. For each epoch in ``--pick-at`` and the last, TypiClust picks the initial set (10% of the
   pool) on that epoch's pool embeddings, per seed. A ResNet-18 then trains on it from the
   final backbone (in the app the first model trains once pre-training has finished, from its
   backbone), low-variance as the app trains, and is evaluated on FER2013Valid. Random picks are
   the floor. The cost of picking early is the accuracy lost against picking on the last epoch;
   the first model is where it shows most (later batches are chosen by the models).

    python bench/early_first_batch.py [--pool 3000] [--pretrain-epochs 30] [--pick-at 3 8] [--seeds 0 1 2]

On a GPU machine, the app's floor of 1,000 steps on a larger pool::

    python bench/early_first_batch.py --pool 10000 --pretrain-epochs 26 --pick-at 3 6 13 --device cuda
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from al_real_faces import FERPLUS, load_faces

from ml_engine.cold_start import random_initial, representative_initial
from ml_engine.embeddings import compute_embeddings
from ml_engine.evaluation import evaluate
from ml_engine.inference import predict
from ml_engine.pretraining_steps import steps_per_epoch
from ml_engine.ssl import PretrainConfig
from ml_engine.ssl.pretrain import pretrain
from ml_engine.ssl.quality import knn_accuracy
from ml_engine.training import LOW_VARIANCE, TrainConfig, fit


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ferplus", type=Path, default=FERPLUS)
    parser.add_argument("--pool", type=int, default=3000)
    parser.add_argument("--pretrain-epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=256, help="pre-training batch (the app's)")
    parser.add_argument("--pick-at", type=int, nargs="+", default=[3, 8], help="early epochs to pick at")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=8, help="classifier epochs")
    parser.add_argument("--min-steps", type=int, default=500, help="classifier step floor (the app's)")
    parser.add_argument("--image-size", type=int, default=48)
    parser.add_argument("--device", default="cpu")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    pool, test = load_faces(args.ferplus, args.pool, args.image_size)
    steps = steps_per_epoch(len(pool), args.batch_size)
    print(
        f"torch threads {torch.get_num_threads()}; FER+ pool {len(pool)} faces, test (FER2013Valid) {len(test)}; "
        f"SimCLR batch {args.batch_size}, {args.pretrain_epochs} epochs = {args.pretrain_epochs * steps} steps"
    )
    picks_at = sorted({*args.pick_at, args.pretrain_epochs})
    embeddings: dict[int, np.ndarray] = {}
    options = {"image_size": args.image_size, "device": args.device}

    def epoch_end(epoch: int, backbone: torch.nn.Module) -> None:
        pool_vectors = compute_embeddings(backbone, pool, **options)
        knn = knn_accuracy(
            pool_vectors, pool.labels, compute_embeddings(backbone, test, **options), test.labels
        )
        if epoch in picks_at:
            embeddings[epoch] = pool_vectors
        print(f"  epoch {epoch:3d}, step {epoch * steps:5d}: kNN accuracy {100 * knn:.2f}%", flush=True)

    config = PretrainConfig(
        method="simclr",
        model="resnet18",
        image_size=args.image_size,
        epochs=args.pretrain_epochs,
        batch_size=args.batch_size,
    )
    started = time.perf_counter()
    final = pretrain(config, pool, device=args.device, epoch_end=epoch_end).backbone_state
    print(f"SimCLR: {time.perf_counter() - started:.0f} s")

    size = round(0.1 * len(pool))
    train = TrainConfig(
        model="resnet18",
        image_size=args.image_size,
        epochs=args.epochs,
        **(LOW_VARIANCE | {"min_steps": args.min_steps}),
    )
    rows = {f"TypiClust at epoch {epoch} (step {epoch * steps})": epoch for epoch in picks_at} | {
        "random": None
    }
    accuracy: dict[str, list[float]] = {name: [] for name in rows}
    for seed in args.seeds:
        for name, epoch in rows.items():
            chosen = (
                random_initial(len(pool), size, seed)
                if epoch is None
                else representative_initial(embeddings[epoch], size, method="typiclust", seed=seed)
            )
            model = fit(
                replace(train, seed=seed),
                pool.subset(np.sort(chosen)),
                device=args.device,
                initial_weights=final,
            ).model
            scores = predict(model, test, **options)
            accuracy[name].append(
                100 * evaluate(test.labels, scores.probabilities, test.class_names).accuracy
            )
            print(f"  seed {seed}, {name}: first model {accuracy[name][-1]:.2f}%", flush=True)

    waited = np.asarray(
        accuracy[f"TypiClust at epoch {args.pretrain_epochs} (step {args.pretrain_epochs * steps})"]
    )
    print(
        f"\nfirst model's accuracy on {size} picked faces (%), from the final backbone, seeds {args.seeds}:"
    )
    print(f"{'initial set picked by':<36} {'mean':>6} {'std':>5} {'vs waiting':>10}  per seed")
    for name, values in accuracy.items():
        got = np.asarray(values)
        print(
            f"{name:<36} {got.mean():6.2f} {got.std():5.2f} {np.mean(got - waited):+10.2f}  "
            + " ".join(f"{value:.2f}" for value in got)
        )


if __name__ == "__main__":
    main()
