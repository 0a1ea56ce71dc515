"""Active learning on real faces: which configuration beats random, by how much, and how steadily.

The project's own loop (``ml_engine.simulation``) on FER+: a pool of ``--pool`` faces of
FER2013Train (majority labels as the oracle) and all of FER2013Valid as the test split,
ResNet-18 at 48 px with seed 000's recipe (``--epochs`` 8 on the CPU), 10% of the pool as
the initial set, ``--cycles`` trainings, 40% of the pool labeled at the end, several seeds.
Each row is one configuration of:

* pre-training: none, or SimCLR on the pool's faces (``--pretrain-epochs``; labels unused),
  trained once and cached in ``--out``, every cycle starting from its backbone;
* training: ``plain`` (seed 000's recipe) or ``low-variance`` (``ml_engine.training.LOW_VARIANCE``:
  EMA weights and a step floor: 500 steps in every row but row 10's 1,000, the app's since that
  row was measured), optionally with the epoch chosen on a 10% validation
  slice of the labeled faces (what low-variance training did before the ablation);
* the initial set: random (seed 000) or TypiClust on the SimCLR embeddings;
* warm start: each cycle continues from the previous cycle's backbone, as the app does;
* the strategy: random, least confidence or BADGE.

For every row it prints accuracy and macro-F1 at every cycle (mean ± standard deviation
over the seeds), the seed spread (largest max-min range over the cycles), the largest drop
between consecutive cycles of one run, and the labels at which the mean curve reaches the
reference: pre-trained random's final accuracy under the plain recipe (the issue's
baseline), or, without that row, the first random row's.

Every run appends to ``results.csv`` in its row group's folder, so an interrupted bench
resumes where it stopped (same command). Runs go seed by seed, so a cut-short bench still
has every row at the first seeds.

CPU default (pre-trained random, plain and low-variance; the combination; random without
pre-training, plain and low-variance, for the variance before and after)::

    python bench/al_real_faces.py

The ablation: the combination (the app's defaults, at a 500-step floor), then each of its
parts changed alone; ``--rows`` runs some of them (the table's numbers)::

    python bench/al_real_faces.py --configs ablation [--rows 1,2,3]

SimCLR's 25 default epochs over 5,000 faces are 475 optimiser steps (19 per epoch at
batch 256), half of what the app runs on a pool that size (``FACELOOP_PRETRAIN_MIN_STEPS``,
1,000). The app's pre-training, in a folder of its own (results of one pre-training are never
mixed with another's)::

    python bench/al_real_faces.py --configs ablation --pretrain-epochs 53 \\
        --out bench/results/al_real_faces_1000_steps --rows 1,2,9,10

(Row 9 trains without pre-training: its results may be copied from the 475-step folder.)

Every row (both pre-trainings, both trainings, the three strategies, and the combination)::

    python bench/al_real_faces.py --configs all

The paper's sizes on a GPU (FER13 protocol of seed 000: the whole pool, 7 cycles, 30 epochs,
SimCLR 100 epochs)::

    python bench/al_real_faces.py --configs all --pool 0 --cycles 7 --epochs 30 \\
        --pretrain-epochs 100 --batch-size 64 --lr 0.05 --device cuda --threads 8 \\
        --out bench/results/al_real_faces_gpu
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml_engine.data.dataset import FaceDataset
from ml_engine.data.importers.ferplus import load_ferplus
from ml_engine.device import resolve_device
from ml_engine.embeddings import compute_embeddings
from ml_engine.pretraining_steps import steps_per_epoch
from ml_engine.simulation.comparison import load_into_memory, simulate
from ml_engine.simulation.oracle_loop import LoopSettings, initial_selection
from ml_engine.simulation.results import CycleRecord, labels_to_reach, read_records
from ml_engine.ssl import PretrainConfig
from ml_engine.ssl.checkpoint import load_pretrained_backbone
from ml_engine.ssl.pool_artifacts import backbone_from_result
from ml_engine.ssl.pretrain import pretrain
from ml_engine.ssl.quality import knn_accuracy
from ml_engine.training import LOW_VARIANCE, TrainConfig

FERPLUS = Path(__file__).resolve().parents[2] / "shared/data/ferplus"
STRATEGY_TITLES = {"random": "random", "least_confidence": "least confidence", "badge": "BADGE"}
ABLATION_FLOOR = 500
"""The low-variance step floor the ablation's rows were measured with (the app's until row 10)."""


@dataclass(frozen=True)
class Row:
    """One configuration; rows sharing everything but the strategy share a results folder."""

    pretrained: bool
    low_variance: bool
    strategy: str
    initial: str = "random"
    warm_start: bool = False
    validation_slice: bool = False
    min_steps: int = ABLATION_FLOOR

    @property
    def other_floor(self) -> bool:
        """Low-variance training with a step floor other than the ablation's."""
        return self.low_variance and self.min_steps != ABLATION_FLOOR

    @property
    def group(self) -> str:
        parts = ["simclr" if self.pretrained else "scratch", "low-variance" if self.low_variance else "plain"]
        parts += ["slice"] if self.validation_slice else []
        parts += [f"floor-{self.min_steps}"] if self.other_floor else []
        parts += [f"{self.initial}-initial"] if self.initial != "random" else []
        return "_".join(parts + (["warm-start"] if self.warm_start else []))

    @property
    def title(self) -> str:
        parts = [STRATEGY_TITLES[self.strategy], "SimCLR" if self.pretrained else "no pre-training"]
        parts += ["low-variance" if self.low_variance else "plain recipe"]
        parts += ["10% validation slice"] if self.validation_slice else []
        parts += [f"{self.min_steps:,}-step floor"] if self.other_floor else []
        parts += [f"{self.initial} initial"] if self.initial != "random" else []
        return ", ".join(parts + (["warm start"] if self.warm_start else []))


BASELINE = Row(pretrained=True, low_variance=False, strategy="random")
COMBINATION = Row(True, True, "least_confidence", initial="typiclust", warm_start=True)
DEFAULT_ROWS = [
    BASELINE,
    Row(True, True, "random"),
    COMBINATION,
    Row(False, False, "random"),
    Row(False, True, "random"),
]
ALL_ROWS = [
    Row(pretrained, low_variance, strategy)
    for pretrained in (False, True)
    for low_variance in (False, True)
    for strategy in STRATEGY_TITLES
] + [COMBINATION]
ABLATION_ROWS = [
    BASELINE,
    COMBINATION,
    replace(COMBINATION, validation_slice=True),
    replace(COMBINATION, strategy="random"),
    replace(COMBINATION, strategy="badge"),
    replace(COMBINATION, initial="random"),
    replace(COMBINATION, warm_start=False),
    replace(COMBINATION, low_variance=False),
    Row(False, True, "least_confidence", warm_start=True),
    replace(COMBINATION, min_steps=1000),
]
"""The default combination, then each of its parts changed alone: the strategy (random,
BADGE), the first batch (random), no warm start, the plain recipe, low-variance with the 10%
validation slice it had before (the epoch chosen on held-out labeled faces), no
pre-training (hence a random first batch), and a training floor of 1,000 steps instead of
500 (``bench/seed_spread.py``: +2.9 points on one fixed labeled set): the app's defaults since
it was measured."""
CONFIGS = {"default": DEFAULT_ROWS, "ablation": ABLATION_ROWS, "all": ALL_ROWS}


def load_faces(root: Path, pool_size: int, image_size: int) -> tuple[FaceDataset, FaceDataset]:
    """``pool_size`` random FER2013Train faces (seed 0; 0 keeps all) and all of FER2013Valid."""
    dataset = load_ferplus(root, verify=False)
    labeled = dataset.labels >= 0
    pool = dataset.subset(np.flatnonzero(labeled & (dataset.splits == "train")))
    test = dataset.subset(np.flatnonzero(labeled & (dataset.splits == "val")))
    if 0 < pool_size < len(pool):
        pool = pool.subset(np.sort(np.random.default_rng(0).choice(len(pool), pool_size, replace=False)))
    return load_into_memory(pool, image_size), load_into_memory(test, image_size)


def simclr_backbone(
    pool: FaceDataset, test: FaceDataset, args: argparse.Namespace, device: str
) -> tuple[dict[str, torch.Tensor], str]:
    """SimCLR on the pool's faces (labels unused), cached in ``--out``; resumes a cut-short run.

    It prints the pre-training's strength before any row uses it: the weighted kNN accuracy
    (k=20) of the test faces' embeddings against the pool's, the pool's labels used only to
    measure.

    A cached run of other epochs is refused rather than extended: ``pretrain`` would continue it,
    and the rows already measured on it would lose their backbone."""
    path = Path(args.out) / "simclr" / "pretrain.pt"
    if path.exists() and (cached := load_pretrained_backbone(path).config.epochs) != args.pretrain_epochs:
        raise SystemExit(
            f"{path} is a {cached}-epoch pre-training, not {args.pretrain_epochs}: use another --out"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    config = PretrainConfig(
        method="simclr", model=args.model, image_size=args.image_size, epochs=args.pretrain_epochs
    )
    started = time.perf_counter()
    result = pretrain(config, pool, device=device, checkpoint_path=path)
    backbone = backbone_from_result(result)
    embed = partial(compute_embeddings, backbone, image_size=args.image_size, device=device)
    knn = knn_accuracy(embed(pool), pool.labels, embed(test), test.labels)
    print(
        f"SimCLR on {len(pool)} pool faces, {args.pretrain_epochs} epochs "
        f"({args.pretrain_epochs * steps_per_epoch(len(pool), config.batch_size)} steps): final loss "
        f"{result.losses[-1]:.4f} ({time.perf_counter() - started:.0f} s, 0 s if cached); "
        f"kNN accuracy of its embeddings {100 * knn:.2f}%"
    )
    return result.backbone_state, f"simclr-{args.pretrain_epochs}-epochs"


def loop_settings(args: argparse.Namespace, row: Row, pool_size: int, device: str) -> LoopSettings:
    train = TrainConfig(
        model=args.model,
        image_size=args.image_size,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        **(LOW_VARIANCE | {"min_steps": row.min_steps} if row.low_variance else {})
        | ({"validation_share": 0.1} if row.validation_slice else {}),
    )
    return LoopSettings(
        initial_size=round(0.1 * pool_size),
        cycles=args.cycles,
        budget=round(0.4 * pool_size),
        train=train,
        device=device,
        warm_start_epochs=max(1, args.epochs // 3) if row.warm_start else None,
    )


def run_rows(
    rows: list[Row], seeds: list[int], pool: FaceDataset, test: FaceDataset, args: argparse.Namespace
) -> None:
    device = str(resolve_device(args.device))
    weights, weights_name = (
        simclr_backbone(pool, test, args, device) if any(r.pretrained for r in rows) else (None, None)
    )
    for seed in seeds:
        for row in rows:
            settings = loop_settings(args, row, len(pool), device)
            started = time.perf_counter()
            simulate(
                pool,
                test,
                [row.strategy],
                [seed],
                settings,
                Path(args.out) / row.group,
                initial_weights=weights if row.pretrained else None,
                weights_name=weights_name if row.pretrained else None,
                initial_selection=initial_selection(row.initial, pool, settings, weights),
                initial_name=row.initial,
                log=lambda line: print(f"  {line}", flush=True),
            )
            print(f"{row.title}, seed {seed}: {time.perf_counter() - started:.0f} s", flush=True)


@dataclass
class RowCurves:
    """Per seed and cycle: labels, accuracy and macro-F1 of one row's complete runs."""

    labels: np.ndarray
    accuracy: np.ndarray
    macro_f1: np.ndarray

    @property
    def spread(self) -> float:
        """The largest max-min range over the seeds at any one labeled-set size."""
        return (
            float((self.accuracy.max(axis=0) - self.accuracy.min(axis=0)).max())
            if len(self.accuracy) > 1
            else float("nan")
        )

    @property
    def largest_drop(self) -> float:
        """The largest fall in accuracy from one cycle to the next within one run (0: never fell)."""
        return float(max(0.0, (self.accuracy[:, :-1] - self.accuracy[:, 1:]).max()))


def row_curves(out: Path, row: Row, cycles: int) -> RowCurves | None:
    records: list[CycleRecord] = [
        record for record in read_records(out / row.group / "results.csv") if record.strategy == row.strategy
    ]
    by_seed: dict[int, dict[int, CycleRecord]] = {}
    for record in records:
        by_seed.setdefault(record.seed, {})[record.cycle] = record
    runs = [sorted(cycles_of.values(), key=lambda r: r.cycle) for seed, cycles_of in sorted(by_seed.items())]
    runs = [run for run in runs if len(run) == cycles]
    if not runs:
        return None
    return RowCurves(
        np.array([r.labels for r in runs[0]]),
        np.array([[100 * r.accuracy for r in run] for run in runs]),
        np.array([[100 * r.macro_f1 for r in run] for run in runs]),
    )


def report(rows: list[Row], args: argparse.Namespace) -> None:
    curves = {row: row_curves(Path(args.out), row, args.cycles) for row in rows}
    curves = {row: found for row, found in curves.items() if found is not None}
    if not curves:
        print("no complete run yet")
        return
    randoms = [row for row in curves if row.strategy == "random"]
    reference_row = BASELINE if BASELINE in curves else (randoms[0] if randoms else None)
    reference = None if reference_row is None else float(curves[reference_row].accuracy[:, -1].mean())
    labels = next(iter(curves.values())).labels
    print()
    if reference is not None:
        print(
            f"reference: {reference_row.title} at {labels[-1]} labels, {reference:.2f}% (mean over its seeds)"
        )
    header = f"{'row':<96} {'seeds':>5} " + " ".join(f"{f'acc@{n}':>13}" for n in labels)
    print(header + f" {'macro-F1@' + str(labels[-1]):>14} {'spread':>6} {'drop':>5} {'to reach':>8}")
    for number, row in enumerate(rows, 1):
        if row not in curves:
            continue
        found = curves[row]
        mean, std = found.accuracy.mean(axis=0), found.accuracy.std(axis=0)
        cells = " ".join(f"{m:6.2f} ± {s:4.2f}" for m, s in zip(mean, std, strict=True))
        f1 = f"{found.macro_f1[:, -1].mean():6.2f} ± {found.macro_f1[:, -1].std():4.2f}"
        reach = None if reference is None else labels_to_reach(found.labels, mean, reference)
        print(
            f"{f'{number}. {row.title}':<96} {len(found.accuracy):>5} {cells} {f1:>14} {found.spread:6.2f} "
            f"{found.largest_drop:5.2f} {'—' if reach is None else f'{reach:.0f}':>8}"
        )
    print(
        "\nacc: test accuracy (%), mean ± std over seeds; spread: largest max-min range over seeds at one "
        "size; drop: largest fall between consecutive cycles of one run; to reach: labels at which the "
        "mean curve reaches the reference (linear between cycles; — never)"
    )


def argument_parser() -> argparse.ArgumentParser:
    """The bench's options; ``bench/seed_spread.py`` builds the defaults' first cycle from them."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", default=str(FERPLUS), help="FER+ folder")
    parser.add_argument("--pool", type=int, default=5000, help="pool faces of FER2013Train (0: all)")
    parser.add_argument("--configs", choices=tuple(CONFIGS), default="default")
    parser.add_argument(
        "--rows",
        help="run only these rows of --configs (comma-separated numbers from 1, as the table numbers them)",
    )
    parser.add_argument(
        "--pretraining",
        choices=("both", "simclr", "none"),
        default="both",
        help="run only the rows with (simclr) or without (none) pre-training; the table shows every row run so far",
    )
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--cycles", type=int, default=4)
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--image-size", type=int, default=48)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--lr", type=float, default=TrainConfig.lr)
    parser.add_argument("--pretrain-epochs", type=int, default=25)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--report-only", action="store_true", help="print the table of what has run")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "al_real_faces"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = argument_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = CONFIGS[args.configs]
    if not args.report_only:
        pool, test = load_faces(Path(args.root), args.pool, args.image_size)
        counts = np.bincount(pool.labels, minlength=pool.num_classes) / len(pool)
        print(
            f"FER+: pool {len(pool)} (majority class {100 * counts.max():.1f}%), test {len(test)}; "
            f"{args.model} at {args.image_size} px, {args.epochs} epochs; initial 10%, {args.cycles} cycles, 40% budget"
        )
        numbered = [rows[int(n) - 1] for n in args.rows.split(",")] if args.rows else rows
        chosen = [
            row
            for row in numbered
            if args.pretraining == "both" or row.pretrained == (args.pretraining == "simclr")
        ]
        run_rows(chosen, [int(seed) for seed in args.seeds.split(",")], pool, test, args)
    report(rows, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
