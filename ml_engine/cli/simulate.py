"""``python -m ml_engine simulate``: compare query strategies on a labeled dataset (seed 000's loop).

Example (synthetic faces, small CNN, a few minutes on a CPU)::

    python -m ml_engine simulate --data 600 --format synthetic --out var/sim \\
        --strategies random,least_confidence,badge --seeds 0,1,2 \\
        --initial 60 --cycles 4 --budget 240 --model small_cnn --image-size 32 --epochs 8

Interrupt it and run the same command again: finished (strategy, seed) runs are skipped.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from ml_engine.cli.arguments import keywords
from ml_engine.cli.data import add_data_arguments, load_cli_dataset
from ml_engine.cli.progress_bar import ProgressBar
from ml_engine.cli.train import add_auxiliary_arguments, architecture
from ml_engine.cold_start import COLD_START_METHODS
from ml_engine.data.dataset import FaceDataset
from ml_engine.device import resolve_device
from ml_engine.models.resnet import STEMS
from ml_engine.simulation.comparison import load_into_memory, simulate, split_pool_and_test
from ml_engine.simulation.oracle_loop import LoopSettings, initial_selection
from ml_engine.strategies import BALANCED_SUFFIX, STRATEGIES, strategy_name
from ml_engine.training import LOW_VARIANCE, TrainConfig

DEFAULT_STRATEGIES = "random,entropy,margin,least_confidence,badge,coreset"


def _count(text: str, total: int) -> int:
    """``"500"`` or ``"10%"`` (of ``total``) as a face count."""
    return round(float(text[:-1]) / 100 * total) if text.endswith("%") else int(text)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``simulate``."""
    parser = subparsers.add_parser("simulate", help="compare query strategies on labeled data")
    add_data_arguments(parser)
    parser.add_argument(
        "--out", required=True, help="output folder (results.csv, learning_curve.png, summary.txt)"
    )
    parser.add_argument(
        "--strategies",
        default=DEFAULT_STRATEGIES,
        help=f"comma list of {', '.join(STRATEGIES)}; <name>{BALANCED_SUFFIX} is its class-balanced variant",
    )
    parser.add_argument(
        "--class-balanced",
        action="store_true",
        help="also run each listed strategy's class-balanced variant (picks spread over predicted classes)",
    )
    parser.add_argument("--seeds", default="0,1,2", help="comma list of seeds")
    parser.add_argument("--initial", default="10%", help="initial set size s: a count or a %% of the pool")
    parser.add_argument("--cycles", type=int, default=7, help="trainings c, the first on the initial set")
    parser.add_argument(
        "--budget", default="40%", help="labels after the last selection: a count or a %% of the pool"
    )
    parser.add_argument(
        "--pool-size", type=int, default=None, help="use a random subset of the pool (seed 0)"
    )
    parser.add_argument("--test-size", type=int, default=None, help="use a random subset of the test split")
    parser.add_argument("--model", default="resnet18", help="model registry name")
    parser.add_argument("--stem", choices=STEMS, default=None, help="ResNet stem")
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--lr", type=float, default=TrainConfig.lr)
    parser.add_argument("--dropout", type=float, default=0.0, help="dropout before the head (BALD needs > 0)")
    parser.add_argument("--image-size", type=int, default=48)
    parser.add_argument(
        "--init-weights", default=None, help="SSL or classifier checkpoint every cycle starts from"
    )
    parser.add_argument(
        "--initial-method",
        choices=COLD_START_METHODS,
        default="random",
        help="initial set: random (seed 000) or representative picks (kmeans, typiclust) on the embeddings "
        "of the --init-weights backbone",
    )
    parser.add_argument(
        "--low-variance",
        action="store_true",
        help="train as the app does: EMA weights and a step floor (TrainConfig.LOW_VARIANCE)",
    )
    parser.add_argument(
        "--warm-start-epochs",
        type=int,
        default=None,
        help="each cycle after the first continues from the previous backbone for this many epochs",
    )
    add_auxiliary_arguments(parser)
    parser.add_argument("--mc-passes", type=int, default=10, help="MC-dropout passes for BALD")
    parser.add_argument(
        "--deepfool-prefilter", type=int, default=None, help="attack only this many lowest-margin faces"
    )
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto")
    parser.set_defaults(func=run)


def _subset(dataset: FaceDataset, size: int | None) -> FaceDataset:
    if size is None or size >= len(dataset):
        return dataset
    return dataset.subset(np.sort(np.random.default_rng(0).choice(len(dataset), size, replace=False)))


def _settings(
    args: argparse.Namespace, pool_size: int
) -> tuple[LoopSettings, dict[str, torch.Tensor] | None]:
    model, kwargs, weights = architecture(args.model, args.stem, args.init_weights)
    shared = keywords(
        args, "dropout", "image_size", "epochs", "batch_size", "lr", "auxiliary", "auxiliary_grid"
    )
    low_variance = LOW_VARIANCE if args.low_variance else {}
    train = TrainConfig(model=model, model_kwargs=kwargs, **shared, **low_variance)
    options = {} if args.deepfool_prefilter is None else {"deepfool": {"prefilter": args.deepfool_prefilter}}
    settings = LoopSettings(
        initial_size=_count(args.initial, pool_size),
        cycles=args.cycles,
        budget=_count(args.budget, pool_size),
        train=train,
        device=str(resolve_device(args.device)),
        mc_passes=args.mc_passes,
        strategy_options=options,
        warm_start_epochs=args.warm_start_epochs,
    )
    return settings, weights


def _strategy_names(listed: str, class_balanced: bool) -> list[str]:
    """The listed strategies, each followed by its class-balanced variant when asked for."""
    names = listed.split(",")
    if not class_balanced:
        return names
    return [variant for name in names for variant in dict.fromkeys([name, strategy_name(name, True)])]


def run(args: argparse.Namespace) -> int:
    """Run the simulation, print Table I, and say where the CSV and the plot are."""
    pool, test = split_pool_and_test(load_cli_dataset(args))
    pool = load_into_memory(_subset(pool, args.pool_size), args.image_size)
    test = load_into_memory(_subset(test, args.test_size), args.image_size)
    settings, weights = _settings(args, len(pool))
    print(
        f"pool {len(pool)} faces, test {len(test)}; initial {settings.initial_size}, {settings.cycles} cycles, "
        f"budget {settings.budget}; batches {settings.batch_sizes()}; device {settings.device}"
    )
    result = simulate(
        pool,
        test,
        _strategy_names(args.strategies, args.class_balanced),
        [int(s) for s in args.seeds.split(",")],
        settings,
        args.out,
        initial_weights=weights,
        weights_name=args.init_weights,
        initial_selection=initial_selection(args.initial_method, pool, settings, weights),
        initial_name=args.initial_method,
        progress=ProgressBar() if sys.stderr.isatty() else None,
    )
    print(f"\n{result.table}\n\nwrote {result.csv_path} and {result.plot_path}")
    return 0
