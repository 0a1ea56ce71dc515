"""Where an active-learning curve's seed spread comes from: training noise and the test set's own.

The defaults' curves on FER+ (``bench/al_real_faces.py --configs ablation``) differ by up to
4.36 points between seeds at one label count (500, the first cycle, with the app's 1,007-step
pre-training); the goal is 1. A seed changes the faces picked
and the training itself. This bench holds the faces fixed, one random draw of ``--labels``
FER2013Train faces (FERPlus majority labels), and trains the app's model on them from a
SimCLR checkpoint (``TrainConfig`` with ``LOW_VARIANCE``, as a cycle of the app) once per
seed, for each step floor in ``--floors`` (more steps: an EMA over more weights). Scored on
all FER2013Valid faces, it prints per floor:

* each seed's accuracy and their range: the spread training alone causes;
* how often two seeds' models disagree on a test face (mean over pairs);
* the test set's part: the range expected among models of *equal* true accuracy that
  disagree as these do. Two models' accuracies on n test faces differ by the mean of
  ``x_i = right_A(i) - right_B(i)``, whose standard deviation is ``sd(x) / sqrt(n)``; for
  seeds this gives each model a test-sampling error ``sd(x) / sqrt(2 n)``, and the expected
  range of k such errors is ``d_k`` times that (``d_3 = 1.69``, ``d_2 = 1.13``). Only models
  that disagree less (or a larger test set) lower it;
* the accuracy of the seeds' ensemble (mean probabilities): what averaging models buys.

If training alone spreads more than the goal, a recipe or an ensemble must narrow it; if its
range is near the test set's part, the picks (the initial set and the strategy's batches)
carry the rest of a curve's spread.

With ``--first-batches typiclust`` the faces are instead the defaults' first batch of
``bench/al_real_faces.py`` (TypiClust on the checkpoint's embeddings of its 5,000-face pool,
one batch per seed; ``random``: the loop's random draw), and every batch is trained with every
seed, as that bench's first cycle trains: a grid of batch against training seed. The range of
the batches' means is what the picks cause, the range of the training seeds' means what
training causes, at the label count where the defaults' curve spreads most. Measured by the last
command below (its TypiClust half): batch means 52.23, 52.96 and 55.99% (range 3.76), training
seeds' means within 0.50, one batch's trainings within 0.77 on average: the picks.

    python bench/seed_spread.py --backbone bench/results/al_real_faces/simclr/pretrain.pt
    python bench/seed_spread.py --backbone PATH --device cuda --labels 1000,2000 --floors 500,2000,4000
    python bench/seed_spread.py --backbone bench/results/al_real_faces_1000_steps/simclr/pretrain.pt \\
        --first-batches typiclust,random --floors 1000       # CPU: about 25 min per method
"""

from __future__ import annotations

import argparse
import itertools
import time
from dataclasses import replace
from pathlib import Path

import al_real_faces
import numpy as np
import torch
from ferplus_subset import DEFAULT_ROOT, app_train_config, load_splits, sample

from ml_engine.data.dataset import FaceDataset
from ml_engine.device import resolve_device
from ml_engine.inference import predict
from ml_engine.simulation.oracle_loop import LoopSettings, initial_selection
from ml_engine.ssl.checkpoint import load_pretrained_backbone
from ml_engine.training import fit


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=str(DEFAULT_ROOT))
    parser.add_argument(
        "--backbone", required=True, help="a pre-training checkpoint every training starts from"
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--first-batches",
        help="instead of one random draw per --labels count, each seed's first batch of the defaults "
        "picked by these methods (comma-separated: typiclust, random), trained with every seed",
    )
    parser.add_argument("--labels", default="1000", help="labeled faces, one fixed draw per count")
    parser.add_argument(
        "--floors", default="500,1000,2000", help="min_steps per recipe (1000: the app's default)"
    )
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--val-size", type=int, default=0, help="FER2013Valid faces (0: all)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    return parser.parse_args()


def expected_range(count: int, draws: int = 200_000) -> float:
    """E[max - min] of ``count`` standard normal draws (``d_k`` of control charts; 1.693 for 3)."""
    samples = np.random.default_rng(0).standard_normal((draws, count))
    return float((samples.max(axis=1) - samples.min(axis=1)).mean())


def range_from_test_sampling(right: np.ndarray) -> float:
    """The range expected among ``len(right)`` equally accurate models that disagree as these do.

    ``right`` is ``(k, n)``: whether each model got each test face right. The per-pair standard
    deviation of the accuracy difference is ``sd(x) / sqrt(n)``; each model's own part is that
    over ``sqrt(2)``, averaged over the pairs.
    """
    count, faces = right.shape
    pairs = [right[a].astype(float) - right[b] for a, b in itertools.combinations(range(count), 2)]
    single = np.mean([difference.std() for difference in pairs]) / np.sqrt(2 * faces)
    return expected_range(count) * single


def first_batches(args: argparse.Namespace, seeds: list[int], floors: list[int], device: str) -> None:
    """Each seed's first batch of the defaults, trained with every seed (the module's docstring)."""
    bench = al_real_faces.argument_parser().parse_args(
        ["--root", str(args.data_root), "--epochs", str(args.epochs), "--device", device]
    )
    pool, test = al_real_faces.load_faces(Path(bench.root), bench.pool, bench.image_size)
    weights = load_pretrained_backbone(args.backbone).state_dict
    settings = al_real_faces.loop_settings(bench, al_real_faces.COMBINATION, len(pool), device)
    for method in args.first_batches.split(","):
        select = initial_selection(method, pool, settings, weights)
        batches = [select(pool, settings.initial_size, seed) for seed in seeds]
        batch_grid(method, batches, pool, test, settings, weights, seeds, floors, device)


def batch_grid(
    method: str,
    batches: list[np.ndarray],
    pool: FaceDataset,
    test: FaceDataset,
    settings: LoopSettings,
    weights: dict[str, torch.Tensor],
    seeds: list[int],
    floors: list[int],
    device: str,
) -> None:
    """Train each of ``batches`` with each seed, per floor, and print the grid and its ranges."""
    print(
        f"\nFER+ first batches: {method} picks {settings.initial_size} of {len(pool)} pool faces per "
        f"seed {seeds}; faces two batches share: "
        + ", ".join(
            f"{a}-{b} {len(np.intersect1d(batches[i], batches[j]))}"
            for (i, a), (j, b) in itertools.combinations(enumerate(seeds), 2)
        )
        + f"; {len(test)} FER2013Valid faces; device {device}, threads {torch.get_num_threads()}",
        flush=True,
    )
    for floor in floors:
        accuracy = np.zeros((len(seeds), len(seeds)))
        test_part = []
        for row, batch in enumerate(batches):
            right = []
            for column, seed in enumerate(seeds):
                config = replace(settings.train, seed=seed, min_steps=floor)
                model = fit(config, pool.subset(batch), device=device, initial_weights=weights).model
                scores = predict(model, test, image_size=config.image_size, device=device)
                predicted = scores.probabilities.argmax(axis=1)
                right.append(predicted == test.labels)
                accuracy[row, column] = 100 * right[-1].mean()
                print(
                    f"  {method}, floor {floor}, batch of seed {seeds[row]}, training seed {seed}: "
                    f"{accuracy[row, column]:.2f}%",
                    flush=True,
                )
            test_part.append(100 * range_from_test_sampling(np.stack(right)))
        print(f"\n{method}, step floor {floor}: accuracy % of each first batch (rows) trained with each seed")
        print(
            "| batch of seed | " + " | ".join(f"training seed {seed}" for seed in seeds) + " | mean | range |"
        )
        print("|---" * (len(seeds) + 3) + "|")
        for row, seed in enumerate(seeds):
            cells = " | ".join(f"{value:.2f}" for value in accuracy[row])
            print(f"| {seed} | {cells} | {accuracy[row].mean():.2f} | {np.ptp(accuracy[row]):.2f} |")
        means = " | ".join(f"{value:.2f}" for value in accuracy.mean(axis=0))
        print(f"| mean | {means} | {accuracy.mean():.2f} | {np.ptp(accuracy.mean(axis=0)):.2f} |")
        print(
            f"range of the batches' means (the picks): {np.ptp(accuracy.mean(axis=1)):.2f}; of the training "
            f"seeds' means: {np.ptp(accuracy.mean(axis=0)):.2f}; within a batch (training alone): "
            f"{np.ptp(accuracy, axis=1).mean():.2f}, the test set's part of it {np.mean(test_part):.2f}; "
            f"the diagonal (the loop's own first cycles): {np.ptp(np.diag(accuracy)):.2f}",
            flush=True,
        )


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    seeds = [int(seed) for seed in args.seeds.split(",")]
    floors = [int(floor) for floor in args.floors.split(",")]
    if args.first_batches:
        first_batches(args, seeds, floors, str(device))
        return
    backbone = load_pretrained_backbone(args.backbone)
    train_all, val_all = load_splits(args.data_root)
    train_all = train_all.subset(np.flatnonzero(train_all.labels >= 0))
    val = sample(val_all, args.val_size or None, np.random.default_rng(12345))
    print(
        f"FER+ seed spread: {backbone.model_name} from {backbone.config.method} ({backbone.epochs} epochs), "
        f"the app's recipe, {args.epochs} epochs; {len(val)} FER2013Valid faces; device {device}, threads "
        f"{torch.get_num_threads()}, seeds {seeds}",
        flush=True,
    )
    print(
        "\n| labels | step floor | accuracy per seed % | range | disagreement % | test set's part | "
        "ensemble % | s per training |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for count in (int(value) for value in args.labels.split(",")):
        faces = sample(train_all, count, np.random.default_rng(0))
        for floor in floors:
            probabilities, seconds = [], []
            for seed in seeds:
                config = replace(app_train_config(backbone, args.epochs, seed), min_steps=floor)
                tick = time.perf_counter()
                model = fit(config, faces, device=device, initial_weights=backbone.state_dict).model
                seconds.append(time.perf_counter() - tick)
                probabilities.append(predict(model, val, device=device).probabilities)
            predicted = np.stack([p.argmax(axis=1) for p in probabilities])
            right = predicted == val.labels
            accuracy = 100 * right.mean(axis=1)
            disagreement = np.mean(
                [
                    (predicted[a] != predicted[b]).mean()
                    for a, b in itertools.combinations(range(len(seeds)), 2)
                ]
            )
            ensemble = (np.mean(probabilities, axis=0).argmax(axis=1) == val.labels).mean()
            print(
                f"| {count} | {floor} | {' / '.join(f'{value:.2f}' for value in accuracy)} | "
                f"{np.ptp(accuracy):.2f} | {100 * disagreement:.1f} | {100 * range_from_test_sampling(right):.2f} | "
                f"{100 * ensemble:.2f} | {np.mean(seconds):.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
