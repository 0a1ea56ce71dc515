"""How close a comparison plan's estimate is to the real length of a replay of the project's own model.

Before a comparison is queued, the plan (``annotator.selectors.comparison_plan``) prices every
image the replay of the project's model trains and scores at the images per second this
machine measured on its own trainings, and "auto" replays the project's model only when that
estimate fits ``FACELOOP_COMPARISON_MINUTES``. An estimate far too low would let a replay run
for hours; one far too high would hand owners the stand-in where their model fits.

Here the speeds are measured as the app measures them from a training job's stages
(``selectors.training_speed.stage_speeds``): one low-variance training of the model on the
first cycle's faces and its evaluation on the test split, its images
(``selectors.training_speed.images_seen``) over its seconds; then the pool scored, faces over
seconds. Then the replay runs as the worker runs it (``ml_bridge.comparisons.loop_settings``
and ``simulate``: the schedule, warm starts, scoring and selection), on synthetic faces, and
its seconds are printed beside the estimate, as real / estimated, with the two speeds priced
apart and with everything priced at training speed (the plan's fallback before any training
recorded its stages, meant as an upper bound).

    python bench/comparison_estimate.py [--labeled 300] [--test 60] [--model resnet18] [--image-size 48]
        [--epochs 4] [--warm-epochs 2] [--min-steps 0] [--strategies least_confidence] [--seeds 1]

On a GPU machine: add ``--device cuda`` (and the app's own ``--epochs 30 --warm-epochs 10 --min-steps 500``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labeled", type=int, default=300, help="labeled pool faces the replay runs on")
    parser.add_argument("--test", type=int, default=60)
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--image-size", type=int, default=48)
    parser.add_argument("--epochs", type=int, default=4, help="FACELOOP_TRAIN_EPOCHS")
    parser.add_argument("--warm-epochs", type=int, default=2, help="FACELOOP_WARM_START_EPOCHS")
    parser.add_argument("--min-steps", type=int, default=0, help="FACELOOP_MIN_TRAIN_STEPS")
    parser.add_argument("--strategies", nargs="+", default=["least_confidence"])
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotator.settings")
    os.environ["FACELOOP_MIN_TRAIN_STEPS"] = str(args.min_steps)
    import django

    django.setup()
    import torch

    from annotator import ml_bridge
    from annotator.ml_bridge.comparisons import BASELINE, loop_settings
    from annotator.selectors.comparison_plan import ProjectReplay, replay_work
    from annotator.selectors.training_speed import images_seen
    from ml_engine.inference import predict
    from ml_engine.simulation.comparison import simulate
    from ml_engine.training import fit

    faces = ml_bridge.synthetic_faces(args.labeled + args.test, seed=0, image_size=args.image_size)
    pool = faces.subset(np.arange(args.labeled))
    test = faces.subset(np.arange(args.labeled, len(faces)))
    strategies = list(dict.fromkeys([BASELINE, *args.strategies]))
    runs = len(strategies) * args.seeds
    settings = loop_settings(
        len(pool),
        pool.num_classes,
        args.model,
        args.image_size,
        args.epochs,
        args.device,
        args.warm_epochs,
        min_steps=args.min_steps,
    )
    print(
        f"torch threads {torch.get_num_threads()}; {args.model} at {args.image_size} px on {args.device}; "
        f"{len(pool)} labeled, {len(test)} test faces; {runs} runs ({', '.join(strategies)} x {args.seeds} seeds); "
        f"epochs {args.epochs}, warm starts {args.warm_epochs}, step floor {args.min_steps}"
    )

    first = pool.subset(np.arange(settings.initial_size))
    started = time.perf_counter()
    model = fit(replace(settings.train, seed=0), first, device=args.device).model
    predict(model, test, image_size=args.image_size, device=args.device)
    train_speed = images_seen(len(first), args.epochs) / (time.perf_counter() - started)
    started = time.perf_counter()
    predict(model, pool, image_size=args.image_size, device=args.device)
    score_speed = len(pool) / (time.perf_counter() - started)
    print(
        f"speeds, measured as a training job's stages are: training {train_speed:.1f} images/s "
        f"({len(first)} faces, then the test split), scoring {score_speed:.1f} faces/s ({len(pool)} faces)"
    )

    replay = ProjectReplay(
        args.model, args.image_size, args.epochs, "scratch", None, "random", args.warm_epochs
    )
    work = replay_work(replay, len(pool), len(test), pool.num_classes, runs)
    staged = work.trained / train_speed + work.scored / score_speed
    unstaged = (work.trained + work.scored) / train_speed
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        simulate(pool, test, strategies, list(range(args.seeds)), settings, out, log=lambda _: None)
        real = time.perf_counter() - started
    print(f"replay: {work.trained} images trained, {work.scored} faces scored; took {real:.0f} s")
    print(f"  estimate, stages priced apart: {staged:.0f} s; real / estimated = {real / staged:.2f}")
    print(
        f"  estimate, all at training speed (before any training recorded stages): {unstaged:.0f} s; real / estimated = {real / unstaged:.2f}"
    )


if __name__ == "__main__":
    main()
