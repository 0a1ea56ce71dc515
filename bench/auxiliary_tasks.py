"""Self-supervised auxiliary heads on real faces: supervised vs puzzle vs rotation vs both (HMTL).

The shape of seed 003's comparison (Pourmirzaei et al., "Using Self-Supervised Auxiliary
Tasks to Improve Fine-Grained Facial Representation", Table 5 and its 20%-of-the-data rows)
on FER+: at two label budgets, FER2013Train faces (FERPlus majority labels) drawn at random
per seed train the same network with ``fit`` for the same epochs in four ways:

* ``supervised``: the expression head alone,
* ``puzzle``: plus one head per tile position of a shuffled grid (§3.2, Eq. 1),
* ``rotation``: plus one head per tile for its quarter turns, tiles in place,
* ``puzzle_rotation``: shuffled and turned tiles, both sets of heads (Eq. 2).

Every auxiliary head has weight 1 and a ``Dropout(0.2)`` before it, as in the authors' code;
every arm has the same dropout before the expression head. Accuracy and macro-F1 are measured
on FER2013Valid majority labels after the last epoch (nothing is selected on it); the
difference column is in accuracy points against ``supervised`` at the same budget over the
same seeds. In the paper's Table 5, 3x3 puzzling lifts an EfficientNet-B0 trained from
scratch on AffectNet from 60.09 to 61.09% (weak augmentation) and from 57.03 to 58.11% (none),
and on 20% of the data from 52.46 to 54.98%; rotation and puzzle-rotation "neither change the
results and sometimes make it worse" (§5.4), and HMTL needs about twice the steps (§5.3).

The CPU defaults train the small CNN from scratch (SGD, one-cycle lr 0.05, batch 64) on 1,000
and 4,000 faces for 20 and 8 epochs, 3 seeds, evaluated on 1,500 FER2013Valid faces, with a
2x2 grid. Why 2x2 here: in calibration runs (seed 0) the small CNN's 3x3 puzzle heads stayed
at chance (last-epoch loss 19.76 and 19.56 against 9 ln 9 = 19.78, on 500 and 2,000 faces)
while their loss pulled its expression accuracy from 40.9 to 35.4% and from 42.8 to 34.9%;
with 2x2 tiles the heads learn (puzzle and rotation losses 4.12 and 4.13 against 4 ln 4 =
5.55). A ResNet-18 does learn 3x3 puzzles (loss 11.9 after 6 epochs on 2,000 faces, while its
expression accuracy fell from 49.7 to 32.9% in that short run), but one such training took
350 s on the loaded CPU, too slow for 24 of them. The whole default run (24 trainings) took
33 minutes (1,983 s) with ``--threads 1`` on the 2-core machine while other jobs held its load
near 6; it would take about 25 on a less crowded one.

Measured at these defaults: supervised 44.3 ± 1.1% and 46.4 ± 1.5% (majority class 38.2%);
every auxiliary arm lost 7 to 11 points (puzzle 36.9 and 36.3%). The heads learn alone
(2x2 puzzle loss 2.84 at 4,000 faces against chance 5.55) but not together (puzzle-rotation
11.10, chance 11.09); the expression head, trained only on scrambled faces, does not carry
over to intact ones at this size. The paper's gain comes from a deep network trained longer
on far more faces, which this CPU run does not reproduce. The paper-sized run wants a GPU::

    python bench/auxiliary_tasks.py --threads 1                 # CPU defaults
    python bench/auxiliary_tasks.py --device cuda --model resnet18 --grid 3 --labels 5000,25000 \\
        --epochs 40,40 --val-size 0 --dropout 0.3                # GPU, all FER+ train faces

On the base owners get: every arm starts from a SimCLR ResNet-18 backbone (a checkpoint of
``python -m ml_engine pretrain``, or the one ``bench/al_real_faces.py`` caches) and trains with
the app's recipe (``TrainConfig``'s SGD cosine schedule, batch 20, low-variance)::

    python bench/auxiliary_tasks.py --backbone bench/results/al_real_faces/simclr/pretrain.pt \\
        --arms supervised,puzzle --grid 3 --labels 1000 --epochs 8 --val-size 0

Measured so (3 seeds, all FER2013Valid): supervised 51.2 ± 0.9%, puzzle 37.6 ± 0.6%.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from ferplus_subset import DEFAULT_ROOT, app_train_config, load_splits, mean_std, sample

from ml_engine.device import resolve_device
from ml_engine.evaluation import evaluate
from ml_engine.inference import predict
from ml_engine.ssl.checkpoint import PretrainedBackbone, load_pretrained_backbone
from ml_engine.training import TrainConfig, fit

ARMS = ("supervised", "puzzle", "rotation", "puzzle_rotation")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=str(DEFAULT_ROOT))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--labels", default="1000,4000", help="labeled faces per budget (nested per seed)")
    parser.add_argument("--epochs", default="20,8", help="epochs per budget, in the order of --labels")
    parser.add_argument("--val-size", type=int, default=1500, help="FER2013Valid faces (0: all)")
    parser.add_argument("--arms", default=",".join(ARMS), help="a subset of " + ", ".join(ARMS))
    parser.add_argument("--grid", type=int, default=2, help="tiles per side (paper: 3 best, also 2)")
    parser.add_argument("--model", default="small_cnn", choices=("small_cnn", "resnet18"))
    parser.add_argument("--width", type=int, default=16, help="small_cnn width")
    parser.add_argument("--stem", default="imagenet", help="resnet18 stem")
    parser.add_argument("--dropout", type=float, default=0.0, help="before the expression head, every arm")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--backbone",
        help="a pre-training checkpoint (python -m ml_engine pretrain): every arm starts from its backbone "
        "and trains as the app does; --model, --width, --stem, --dropout, --batch-size and --lr are unused",
    )
    return parser.parse_args()


def _config(
    args: argparse.Namespace, arm: str, epochs: int, seed: int, backbone: PretrainedBackbone | None
) -> TrainConfig:
    """The bench's recipe, or with ``--backbone`` the app's (TrainConfig's SGD and cosine schedule,
    low-variance) on the checkpoint's network."""
    task = {"seed": seed, "auxiliary": "none" if arm == "supervised" else arm, "auxiliary_grid": args.grid}
    if backbone is not None:
        return app_train_config(backbone, epochs, **task)
    return TrainConfig(
        model=args.model,
        model_kwargs={"width": args.width} if args.model == "small_cnn" else {"stem": args.stem},
        dropout=args.dropout,
        epochs=epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        schedule="onecycle",
        **task,
    )


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.device = resolve_device(args.device)
    started = time.perf_counter()
    train_all, val_all = load_splits(args.data_root)
    train_all = train_all.subset(np.flatnonzero(train_all.labels >= 0))
    val = sample(val_all, args.val_size or None, np.random.default_rng(12345))
    counts = [int(count) for count in args.labels.split(",")]
    epochs = [int(value) for value in args.epochs.split(",")]
    seeds = [int(seed) for seed in args.seeds.split(",")]
    arms = args.arms.split(",")
    majority = np.bincount(val.labels, minlength=val.num_classes).max() / len(val)
    backbone = load_pretrained_backbone(args.backbone) if args.backbone else None
    recipe = (
        f"{args.model}, SGD one-cycle lr {args.lr:g}, batch {args.batch_size}, dropout {args.dropout:g}"
        if backbone is None
        else f"{backbone.model_name} from {backbone.config.method} ({backbone.epochs} epochs), the app's "
        "low-variance recipe"
    )
    print(
        f"FER+ auxiliary tasks: labels {counts} for {epochs} epochs, {len(val)} FER2013Valid faces (majority "
        f"class {100 * majority:.1f}%); {recipe}; {args.grid}x{args.grid} tiles; device {args.device}, "
        f"threads {torch.get_num_threads()}, seeds {seeds}"
    )
    rows: dict[tuple[int, str], list[dict[str, float]]] = {}
    for seed in seeds:
        faces = sample(train_all, max(counts), np.random.default_rng(seed))
        faces = faces.subset(np.random.default_rng(1000 + seed).permutation(len(faces)))  # nested budgets
        for count, epoch_count in zip(counts, epochs, strict=True):
            for arm in arms:
                tick = time.perf_counter()
                result = fit(
                    _config(args, arm, epoch_count, seed, backbone),
                    faces.subset(np.arange(count)),
                    device=args.device,
                    initial_weights=None if backbone is None else backbone.state_dict,
                )
                outputs = predict(result.model, val, device=args.device)
                metrics = evaluate(val.labels, outputs.probabilities, val.class_names)
                last = result.history[-1]
                row = {
                    "accuracy": metrics.accuracy,
                    "macro_f1": metrics.macro_f1,
                    "auxiliary_loss": last.get("train_auxiliary_loss", np.nan),
                    "seconds": time.perf_counter() - tick,
                }
                rows.setdefault((count, arm), []).append(row)
                print(
                    f"  seed {seed} labels {count:>5} {arm:<15} acc {metrics.accuracy:.4f} "
                    f"macro-F1 {metrics.macro_f1:.4f} auxiliary loss {row['auxiliary_loss']:.3f} "
                    f"({row['seconds']:.0f} s)",
                    flush=True,
                )
    _print_table(rows, counts, arms)
    print(f"total {time.perf_counter() - started:.0f} s")


def _print_table(rows: dict, counts: list[int], arms: list[str]) -> None:
    print(
        "\n| labels | method | val accuracy % | macro-F1 % | accuracy - supervised (points) | "
        "last-epoch auxiliary loss | s per run |"
    )
    print("|---|---|---|---|---|---|---|")
    for count in counts:
        supervised = rows.get((count, "supervised"))
        baseline = np.mean([row["accuracy"] for row in supervised]) if supervised else np.nan
        for arm in arms:
            runs = rows[(count, arm)]
            accuracy = [row["accuracy"] for row in runs]
            difference = 100 * (np.mean(accuracy) - baseline)
            auxiliary = np.mean([row["auxiliary_loss"] for row in runs])
            print(
                f"| {count} | {arm} | {mean_std(accuracy)} | {mean_std([row['macro_f1'] for row in runs])} | "
                f"{'-' if np.isnan(difference) or arm == 'supervised' else f'{difference:+.1f}'} | "
                f"{'-' if np.isnan(auxiliary) else f'{auxiliary:.3f}'} | "
                f"{np.mean([row['seconds'] for row in runs]):.0f} |"
            )


if __name__ == "__main__":
    main()
