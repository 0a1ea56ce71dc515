"""Seed 000 Table II: does self-supervised pre-training fix active learning's cold start?

Four rows at the same label budget, each over the same seeds (same initial sets per seed):

1. random sampling, from scratch;       2. least confidence, from scratch;
3. SSL pre-training + random sampling;  4. SSL pre-training + least confidence (the paper's method);
and, with ``--representative``, a fifth: SSL + least confidence from a TypiClust initial set
picked on the SSL embeddings (ml_engine.cold_start) instead of a random one.

"SSL" means every cycle's classifier starts from the pre-trained backbone (reloaded each
cycle, new head), not just the first one. The quality of the SSL embeddings is also
reported before any label is used: weighted kNN (k=20) and linear-probe accuracy on the
test faces, with the pool's labels as reference, against a randomly initialised backbone of
the same architecture (the baseline, measured in the same run).

Datasets: synthetic faces (ml_engine.data.synthetic) and a random subset of FER+
(FER2013Train as the pool, FER2013Valid as the test set). Seed 000 pre-trained for 400
epochs on a V100; a short CPU run is not expected to show the gain (design.md). Scale it up
on a GPU machine:

    .venv/bin/python bench/ssl_cold_start.py --device cuda --model resnet18 --pool-size 20000 \\
        --test-size 3000 --ssl-epochs 200 --train-epochs 30 --cycles 7

Results (results.csv per row, pretrain.pt) land in --out; re-running resumes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ml_engine.cold_start import representative_initial
from ml_engine.data.dataset import FaceDataset
from ml_engine.data.importers.ferplus import load_ferplus
from ml_engine.data.synthetic import generate_faces
from ml_engine.device import resolve_device
from ml_engine.embeddings import compute_embeddings
from ml_engine.models import create_model
from ml_engine.progress import Progress
from ml_engine.simulation.comparison import load_into_memory, simulate, split_pool_and_test
from ml_engine.simulation.oracle_loop import LoopSettings
from ml_engine.ssl import PretrainConfig, pretrain
from ml_engine.ssl.pool_artifacts import backbone_from_result
from ml_engine.ssl.quality import knn_accuracy, linear_probe_accuracy
from ml_engine.training import TrainConfig

FERPLUS_ROOT = Path(__file__).resolve().parents[2] / "shared/data/ferplus"
PAPER_FER13 = {"random": 63.15, "lc": 65.63, "ssl_random": 64.66, "ssl_lc": 67.11}


def subset(dataset: FaceDataset, size: int, seed: int = 0) -> FaceDataset:
    if size >= len(dataset):
        return dataset
    return dataset.subset(np.sort(np.random.default_rng(seed).choice(len(dataset), size, replace=False)))


def load(name: str, args: argparse.Namespace) -> tuple[FaceDataset, FaceDataset]:
    """(pool, test) in memory at ``--image-size``."""
    if name == "synthetic":
        faces = generate_faces(args.pool_size + args.test_size, seed=0, size=args.image_size)
        pool, test = split_pool_and_test(faces, test_fraction=args.test_size / len(faces))
    else:
        pool, test = split_pool_and_test(load_ferplus(args.ferplus, verify=False))
    pool, test = subset(pool, args.pool_size), subset(test, args.test_size)
    return load_into_memory(pool, args.image_size), load_into_memory(test, args.image_size)


def epoch_printer(stage: str):
    def report(progress: Progress) -> None:
        if progress.metrics:
            print(f"  {stage} epoch {progress.epoch}/{progress.epochs}: loss {progress.loss:.4f}", flush=True)

    return report


def ssl_backbone(pool: FaceDataset, args: argparse.Namespace, out: Path):
    config = PretrainConfig(
        method=args.method,
        model=args.model,
        model_kwargs=args.model_kwargs,
        image_size=args.image_size,
        epochs=args.ssl_epochs,
        batch_size=min(args.ssl_batch_size, len(pool)),
        warmup_epochs=min(10, args.ssl_epochs // 10),
    )
    started = time.perf_counter()
    result = pretrain(
        config,
        pool,
        device=args.device,
        progress=epoch_printer(args.method),
        checkpoint_path=out / "pretrain.pt",
    )
    print(
        f"  {args.method}: {args.ssl_epochs} epochs on {len(pool)} faces in {time.perf_counter() - started:.0f} s"
    )
    return result


def embedding_quality(
    pool: FaceDataset, test: FaceDataset, backbone, args: argparse.Namespace
) -> tuple[float, float]:
    options = {"image_size": args.image_size, "device": args.device}
    train, queries = (
        compute_embeddings(backbone, pool, **options),
        compute_embeddings(backbone, test, **options),
    )
    return (
        knn_accuracy(train, pool.labels, queries, test.labels),
        linear_probe_accuracy(train, pool.labels, queries, test.labels),
    )


def face_count(text: str, pool_size: int) -> int:
    """``"500"`` or ``"5%"`` (of the pool) as a number of faces."""
    return round(float(text[:-1]) / 100 * pool_size) if text.endswith("%") else int(text)


def run_rows(pool, test, args, out: Path, ssl_weights, ssl_embeddings) -> dict[str, np.ndarray]:
    """Final accuracies ``(seeds,)`` per row, keyed ``folder/strategy``."""
    train = TrainConfig(
        model=args.model,
        model_kwargs=args.model_kwargs,
        image_size=args.image_size,
        epochs=args.train_epochs,
        batch_size=args.train_batch_size,
        lr=args.lr,
    )
    settings = LoopSettings(
        face_count(args.initial, len(pool)),
        args.cycles,
        face_count(args.budget, len(pool)),
        train,
        device=str(args.device),
    )
    print(
        f"  AL: initial {settings.initial_size}, batches {settings.batch_sizes()}, budget {settings.budget}"
    )
    seeds = [int(seed) for seed in args.seeds.split(",")]

    def typiclust(faces: FaceDataset, size: int, seed: int) -> np.ndarray:
        return representative_initial(ssl_embeddings, size, method="typiclust", seed=seed)

    both, weights_name = ["random", "least_confidence"], f"{args.method}, {args.ssl_epochs} epochs"
    runs = [
        ("scratch", both, {}),
        ("ssl", both, {"initial_weights": ssl_weights, "weights_name": weights_name}),
    ]
    if args.representative:
        options = {
            "initial_weights": ssl_weights,
            "weights_name": weights_name,
            "initial_selection": typiclust,
        }
        runs.append(("ssl_typiclust", ["least_confidence"], options))
    finals = {}
    for folder, strategies, options in runs:
        report = simulate(
            pool,
            test,
            strategies,
            seeds,
            settings,
            out / folder,
            log=lambda line: print("   ", line, flush=True),
            **options,
        )
        for summary in report.summaries:
            finals[f"{folder}/{summary.name}"] = summary.accuracy[:, -1]
    return finals


def print_table(name: str, finals: dict[str, np.ndarray], quality: dict[str, tuple[float, float]]) -> None:
    rows = [
        ("Random sampling", "scratch/random", "random"),
        ("Least Confidence", "scratch/least_confidence", "lc"),
        ("Pre-training + Random Sampling", "ssl/random", "ssl_random"),
        ("Pre-training + Least Confidence", "ssl/least_confidence", "ssl_lc"),
        ("Pre-training + LC, TypiClust initial set", "ssl_typiclust/least_confidence", None),
    ]
    print(f"\nTable II on {name} (final test accuracy %, mean ± std over seeds; FER13 column from seed 000)")
    print(f"{'method':<42} {'ours':>15} {'paper FER13':>12}")
    for title, key, paper in rows:
        if key in finals:
            values = 100 * finals[key]
            reference = f"{PAPER_FER13[paper]:.2f}" if paper else "-"
            print(f"{title:<42} {values.mean():7.2f} ± {values.std():5.2f} {reference:>12}")
    for label, (knn, probe) in quality.items():
        print(f"{label:<42} kNN {100 * knn:6.2f}   linear probe {100 * probe:6.2f}")
    gain = finals["ssl/least_confidence"].mean() - finals["scratch/least_confidence"].mean()
    print(f"SSL gain for least confidence: {100 * gain:+.2f} points (paper FER13: +1.48)")


def run_dataset(name: str, args: argparse.Namespace) -> None:
    out = Path(args.out) / name
    out.mkdir(parents=True, exist_ok=True)
    pool, test = load(name, args)
    print(
        f"\n== {name}: pool {len(pool)}, test {len(test)}, {args.image_size} px, {args.model} {args.model_kwargs}"
    )
    result = ssl_backbone(pool, args, out)
    backbone = backbone_from_result(result)
    torch.manual_seed(0)  # the same random initialisation as the pre-training started from
    random_backbone = create_model(args.model, 1, **args.model_kwargs).backbone
    quality = {
        "embeddings: random init": embedding_quality(pool, test, random_backbone, args),
        f"embeddings: {args.method}": embedding_quality(pool, test, backbone, args),
    }
    for label, (knn, probe) in quality.items():
        print(f"  {label}: kNN {100 * knn:.2f}%, linear probe {100 * probe:.2f}%")
    ssl_embeddings = compute_embeddings(backbone, pool, image_size=args.image_size, device=args.device)
    finals = run_rows(pool, test, args, out, result.backbone_state, ssl_embeddings)
    print_table(name, finals, quality)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", default="synthetic,ferplus")
    parser.add_argument("--ferplus", default=str(FERPLUS_ROOT))
    parser.add_argument("--out", default="var/bench/ssl_cold_start")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--pool-size", type=int, default=2000)
    parser.add_argument("--test-size", type=int, default=1000)
    parser.add_argument("--image-size", type=int, default=48)
    parser.add_argument("--model", default="small_cnn")
    parser.add_argument("--stem", default=None, help="ResNet stem (default: the model's)")
    parser.add_argument("--method", default="simclr")
    parser.add_argument("--ssl-epochs", type=int, default=30)
    parser.add_argument("--ssl-batch-size", type=int, default=256)
    parser.add_argument(
        "--initial", default="5%", help="a count or a %% of the pool (seed 000: 10%%, 5%% best)"
    )
    parser.add_argument("--budget", default="20%", help="labels after the last selection (seed 000: 40%%)")
    parser.add_argument("--cycles", type=int, default=4, help="seed 000: 7")
    parser.add_argument("--train-epochs", type=int, default=15)
    parser.add_argument("--train-batch-size", type=int, default=20, help="seed 000: 20")
    parser.add_argument("--lr", type=float, default=0.01, help="seed 000: 0.01")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--representative", action="store_true", help="add the TypiClust initial-set row")
    args = parser.parse_args()
    args.device = resolve_device(args.device)
    args.model_kwargs = {} if args.stem is None else {"stem": args.stem}
    for name in args.datasets.split(","):
        run_dataset(name, args)


if __name__ == "__main__":
    main()
