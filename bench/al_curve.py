"""Active-learning curves of the query strategies (seed 000's Table I protocol) on FER+ or synthetic faces.

Runs :func:`ml_engine.simulation.comparison.simulate`: an initial random set, ``--cycles`` trainings, the
rest of the budget split evenly between the cycles, retraining from scratch (or from
``--init-weights``) each cycle, test accuracy after each; several strategies and seeds. Writes
``results.csv``, ``learning_curve.png`` and ``summary.txt`` to ``--out`` and prints Table I
with the labels each strategy needs to reach random sampling's final accuracy. Interrupted
runs resume (same command).

Data:
- ``--dataset ferplus``: a random subset (seed 0) of FER2013Train with FER+ majority labels
  as the pool, and a random subset of FER2013Valid as the test set (``../shared/data/ferplus``).
- ``--dataset synthetic``: ``generate_faces`` (seed 0; pose, imaging and occlusion scaled by
  ``--difficulty``), ``--test`` of them held out at random as the test set.

CPU-sized default (about 10-20 minutes on the shared 2-core machine)::

    python bench/al_curve.py --dataset synthetic
    python bench/al_curve.py --dataset ferplus

Closer to the paper on a GPU (FER13: s = 10%, 7 cycles, 40% budget, ResNet-18)::

    python bench/al_curve.py --dataset ferplus --pool 0 --test 0 --initial 10% --cycles 7 \\
        --budget 40% --model resnet18 --image-size 48 --epochs 30 --batch-size 64 --lr 0.05 \\
        --strategies random,entropy,margin,least_confidence,badge,coreset,glister,bald,deepfool \\
        --dropout 0.3 --device cuda --out bench/results/al_curve_ferplus_gpu
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml_engine.data.dataset import FaceDataset
from ml_engine.data.face_params import Difficulty
from ml_engine.data.importers.ferplus import load_ferplus
from ml_engine.data.synthetic import generate_faces
from ml_engine.device import resolve_device
from ml_engine.simulation.comparison import load_into_memory, simulate, split_pool_and_test
from ml_engine.simulation.oracle_loop import LoopSettings
from ml_engine.training import TrainConfig

FERPLUS = Path(__file__).resolve().parents[2] / "shared/data/ferplus"


def _sample(dataset: FaceDataset, size: int) -> FaceDataset:
    """A random subset (seed 0) of ``size`` faces; 0 keeps all."""
    if size <= 0 or size >= len(dataset):
        return dataset
    return dataset.subset(np.sort(np.random.default_rng(0).choice(len(dataset), size, replace=False)))


def load_data(args: argparse.Namespace) -> tuple[FaceDataset, FaceDataset]:
    """The pool and the test set, decoded into memory at ``--image-size``."""
    if args.dataset == "synthetic":
        difficulty = Difficulty(
            pose=args.difficulty, imaging=args.difficulty, occlusion_probability=0.15 * args.difficulty
        )
        faces = generate_faces(
            args.pool + args.test, seed=0, size=args.image_size, votes_per_face=0, difficulty=difficulty
        )
        pool, test = split_pool_and_test(faces, test_fraction=args.test / (args.pool + args.test))
    else:
        dataset = load_ferplus(args.root, verify=False)
        labeled = dataset.labels >= 0
        pool = dataset.subset(np.flatnonzero(labeled & (dataset.splits == "train")))
        test = dataset.subset(np.flatnonzero(labeled & (dataset.splits == "val")))
        pool, test = _sample(pool, args.pool), _sample(test, args.test)
    return load_into_memory(pool, args.image_size), load_into_memory(test, args.image_size)


def _count(text: str, total: int) -> int:
    return round(float(text[:-1]) / 100 * total) if text.endswith("%") else int(text)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", choices=("ferplus", "synthetic"), default="synthetic")
    parser.add_argument("--root", default=str(FERPLUS), help="FER+ folder")
    parser.add_argument(
        "--difficulty",
        type=float,
        default=1.0,
        help="synthetic nuisance strength (1 = the calibrated default)",
    )
    parser.add_argument("--pool", type=int, default=2000, help="pool faces (0: all of FER2013Train)")
    parser.add_argument("--test", type=int, default=1000, help="test faces (0: all of FER2013Valid)")
    parser.add_argument("--initial", default="200", help="initial set: count or %% of the pool")
    parser.add_argument("--cycles", type=int, default=4)
    parser.add_argument(
        "--budget", default="800", help="labels after the last selection: count or %% of the pool"
    )
    parser.add_argument("--strategies", default="random,entropy,margin,least_confidence,badge,coreset")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--model", default="small_cnn")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--dropout", type=float, default=0.0, help="> 0 when BALD is compared")
    parser.add_argument("--width", type=int, default=None, help="small_cnn width (default: the model's)")
    parser.add_argument(
        "--no-augment", action="store_true", help="train without augmentation (faster fitting)"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default=None, help="default: bench/results/al_curve_<dataset>")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = str(resolve_device(args.device))
    pool, test = load_data(args)
    train = TrainConfig(
        model=args.model,
        image_size=args.image_size,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        dropout=args.dropout,
        augment=not args.no_augment,
        model_kwargs={} if args.width is None else {"width": args.width},
    )
    settings = LoopSettings(
        initial_size=_count(args.initial, len(pool)),
        cycles=args.cycles,
        budget=_count(args.budget, len(pool)),
        train=train,
        device=device,
    )
    out = args.out or str(Path(__file__).resolve().parent / "results" / f"al_curve_{args.dataset}")
    print(
        f"{args.dataset}: pool {len(pool)}, test {len(test)}, {len(pool.class_names)} classes; initial "
        f"{settings.initial_size}, {settings.cycles} cycles, batches {settings.batch_sizes()}; {args.model} "
        f"{args.image_size}px, {args.epochs} epochs, batch {args.batch_size}, lr {args.lr}, "
        f"augment {not args.no_augment}; device {device}",
        flush=True,
    )
    report = simulate(
        pool,
        test,
        args.strategies.split(","),
        [int(s) for s in args.seeds.split(",")],
        settings,
        out,
        log=lambda line: print(line, flush=True),
    )
    print(f"\n{report.table}\n\nwrote {report.csv_path} and {report.plot_path}")


if __name__ == "__main__":
    main()
