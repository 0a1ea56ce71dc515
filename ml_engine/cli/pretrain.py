"""``python -m ml_engine pretrain``: self-supervised pre-training, pool embeddings, faiss index.

Example (FER+ training faces, SimCLR, on a GPU)::

    python -m ml_engine pretrain --data ../shared/data/ferplus --method simclr \\
        --epochs 200 --out var/ssl --device cuda

Writes ``pretrain.pt`` (resumable; pass it to ``train --initial-weights``),
``embeddings.npy`` + ``embeddings.json`` and ``index.faiss`` into ``--out``. Running the same
command again continues from the last finished epoch. ``--min-steps`` raises the epochs of a
small pool until the run takes that many optimiser steps (``ml_engine.pretraining_steps``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ml_engine.cli.data import add_data_arguments, load_cli_dataset
from ml_engine.cli.progress_bar import ProgressBar
from ml_engine.cli.train import initial_weights
from ml_engine.data.dataset import FaceDataset
from ml_engine.embeddings import load_embeddings
from ml_engine.models.resnet import STEMS
from ml_engine.pretraining_steps import epochs_for_min_steps, steps_per_epoch
from ml_engine.ssl import PretrainConfig, list_methods
from ml_engine.ssl.pool_artifacts import pretrain_pool
from ml_engine.ssl.quality import knn_accuracy


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``pretrain``."""
    parser = subparsers.add_parser("pretrain", help="self-supervised pre-training, embeddings and index")
    add_data_arguments(parser)
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--method", choices=list_methods(), default="simclr")
    parser.add_argument("--model", default="resnet18", help="model registry name")
    parser.add_argument("--stem", choices=STEMS, default=None, help="ResNet stem (default: the model's)")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument(
        "--min-steps",
        type=int,
        default=0,
        help="run more epochs where --epochs take fewer optimiser steps than this (a small pool's floor; 0: off)",
    )
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=None, help="peak SGD lr (default 0.06 x batch / 128)")
    parser.add_argument("--warmup-epochs", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=None, help="default: the method's (SimCLR 0.1)")
    parser.add_argument("--image-size", type=int, default=48)
    parser.add_argument(
        "--splits",
        default="train,pool",
        help="comma list of splits to pre-train on (all faces if none match)",
    )
    parser.add_argument("--pool-size", type=int, default=None, help="use a random subset of those faces")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--init-weights",
        default=None,
        help="continue from these backbone weights: a torchvision or timm ResNet-18 state dict "
        "(RGB stem summed to gray, fc left out), a FaceLoop checkpoint or a raw backbone state dict",
    )
    parser.add_argument("--num-workers", type=int, default=0, help="DataLoader workers (decoding files)")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto")
    parser.set_defaults(func=run)


def _faces(dataset: FaceDataset, splits: str, pool_size: int | None) -> FaceDataset:
    chosen = np.flatnonzero(np.isin(dataset.splits, splits.split(",")))
    faces = dataset.subset(chosen) if len(chosen) else dataset
    if pool_size is not None and pool_size < len(faces):
        faces = faces.subset(np.sort(np.random.default_rng(0).choice(len(faces), pool_size, replace=False)))
    return faces


def _report_knn(faces: FaceDataset, folder: str) -> None:
    """kNN accuracy of the new embeddings on the labelled faces (half as reference, half as queries)."""
    labelled = np.flatnonzero(faces.labels >= 0)
    if len(labelled) < 20:
        return
    vectors, _ = load_embeddings(folder)
    order = np.random.default_rng(0).permutation(labelled)
    reference, queries = order[: len(order) // 2], order[len(order) // 2 :]
    accuracy = knn_accuracy(
        vectors[reference], faces.labels[reference], vectors[queries], faces.labels[queries]
    )
    print(f"kNN accuracy (k=20, cosine) on {len(queries)} labelled faces: {accuracy:.4f}")


def run(args: argparse.Namespace) -> int:
    """Pre-train, embed and index; print the loss per epoch and where the files are."""
    faces = _faces(load_cli_dataset(args), args.splits, args.pool_size)
    weights, model, model_kwargs = None, args.model, {} if args.stem is None else {"stem": args.stem}
    if args.init_weights:
        weights, saved_model, saved_kwargs = initial_weights(args.init_weights)
        model = saved_model or model
        model_kwargs = {
            **model_kwargs,
            **{k: v for k, v in saved_kwargs.items() if k not in ("dropout", "in_channels")},
        }
    epochs = epochs_for_min_steps(
        epochs=args.epochs, min_steps=args.min_steps, faces=len(faces), batch_size=args.batch_size
    )
    config = PretrainConfig(
        method=args.method,
        model=model,
        model_kwargs=model_kwargs,
        image_size=args.image_size,
        epochs=epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        warmup_epochs=args.warmup_epochs,
        temperature=args.temperature,
        seed=args.seed,
        num_workers=args.num_workers,
    )
    steps = epochs * steps_per_epoch(len(faces), args.batch_size)
    print(f"pre-training {args.method} on {len(faces)} faces for {epochs} epochs ({steps} optimiser steps)")
    started = time.perf_counter()
    artifacts = pretrain_pool(
        config, faces, args.out, device=args.device, progress=ProgressBar(), initial_weights=weights
    )
    seconds = time.perf_counter() - started
    print(f"losses per epoch: {', '.join(f'{loss:.4f}' for loss in artifacts.losses)} ({seconds:.0f} s)")
    print(f"wrote {artifacts.checkpoint}, {artifacts.embeddings_dir / 'embeddings.npy'}, {artifacts.index}")
    _report_knn(faces, args.out)
    return 0
