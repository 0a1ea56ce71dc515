"""``python -m ml_engine distill``: a labeled dataset as a few synthetic images per class, with a card."""

from __future__ import annotations

import argparse
from pathlib import Path

from ml_engine.cli.arguments import keywords
from ml_engine.cli.data import add_data_arguments, load_cli_dataset, select_split
from ml_engine.cli.progress_bar import ProgressBar
from ml_engine.data.dataset import FaceDataset
from ml_engine.device import resolve_device
from ml_engine.distillation.distill import DistillationConfig
from ml_engine.distillation.faces import distill_faces
from ml_engine.export.distilled_set import write_distilled_set


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``distill``."""
    parser = subparsers.add_parser(
        "distill", help="distil labeled faces into a few images per class (Wang et al. 2018)"
    )
    add_data_arguments(parser)
    parser.add_argument("--out", required=True, help="zip to write (images, step sizes, card)")
    parser.add_argument(
        "--images-per-class",
        type=int,
        default=DistillationConfig.images_per_class,
        help="per synthetic batch",
    )
    parser.add_argument("--steps", type=int, default=DistillationConfig.steps, help="synthetic batches")
    parser.add_argument("--epochs", type=int, default=DistillationConfig.epochs, help="replays of them")
    parser.add_argument("--iterations", type=int, default=DistillationConfig.iterations)
    parser.add_argument("--batch-size", type=int, default=DistillationConfig.batch_size, help="real faces")
    parser.add_argument("--step-size", type=float, default=DistillationConfig.initial_step_size)
    parser.add_argument("--init", choices=("noise", "real"), default=DistillationConfig.init)
    parser.add_argument("--width", type=int, default=32, help="ConvNet channels")
    parser.add_argument("--image-size", type=int, default=48)
    parser.add_argument("--networks", type=int, default=3, help="fresh networks scored on the test split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Distil the train split (or every labeled face), score on the test split, write the zip."""
    dataset = load_cli_dataset(args)
    train, train_name = select_split(dataset, ("train",))
    test: FaceDataset | None
    test, test_name = select_split(dataset, ("test", "val"))
    if test_name == "all":
        test = None
    settings = keywords(
        args, "images_per_class", "steps", "epochs", "iterations", "batch_size", "init", "seed"
    )
    config = DistillationConfig(initial_step_size=args.step_size, **settings)
    network = keywords(args, "image_size", "width", "networks")
    device = resolve_device(args.device)
    distilled, card = distill_faces(config, train, test, device=device, progress=ProgressBar(), **network)
    written = write_distilled_set(Path(args.out), distilled, train.class_names, card)
    scores = card.test_accuracies
    score = f"test accuracy {sum(scores) / len(scores):.4f} ({test_name})" if scores else "no test split"
    print(
        f"distilled {card.training_faces} faces ({train_name}) into {written['images_per_class']} images "
        f"per class; {score}; wrote {args.out}"
    )
    return 0
