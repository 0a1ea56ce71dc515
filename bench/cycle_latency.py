"""Time from the last vote of a batch to the next batch being ready, by stage (train, score, select).

A project of synthetic faces (default: 5,000 pool + 500 test, 48 px, ResNet-18, least
confidence) gets its initial batch labeled through the vote service (a real Redis server
receives the training job the last vote queues); then that job runs in this process,
exactly as a worker runs it (``annotator.services.training.run_training_job``), so the
stage times are not mixed with a worker's start-up. The job records each stage's seconds.

Baseline, in the same run: the same ``ml_engine`` calls (fit, predict, select_batch) on
the same faces already in memory, without the database, image files or the bridge. The
ratio is the price of the real path (decoding stored PNGs, writing checkpoint and scores).

    .venv/bin/python bench/cycle_latency.py [--pool 5000] [--batch 500] [--epochs 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from annotator.processes import ProcessGroup, free_port, start_redis  # noqa: E402


def configure_django(scratch: Path, epochs: int) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="annotator.settings",
        FACELOOP_VAR_DIR=str(scratch),
        DATABASE_URL=f"sqlite:///{scratch}/bench.sqlite3",
        MEDIA_ROOT=str(scratch / "media"),
        FACELOOP_TRAIN_EPOCHS=str(epochs),
        LOG_LEVEL="WARNING",
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def build_project(pool_size: int, test_size: int, batch: int, seed: int):
    from django.contrib.auth import get_user_model

    from annotator import ml_bridge
    from annotator.services import cycles, imports, projects

    faces = ml_bridge.synthetic_faces(pool_size + test_size, seed=seed)
    owner = get_user_model().objects.create_user("bench", password="bench")
    project = projects.create_project(
        owner, name="bench", classes=projects.default_class_specs(faces.class_names),
        budget_votes=pool_size, batch_size=batch, initial_set_size=batch, strategy="least_confidence",
        ssl_method="none",
    )  # fmt: skip
    imports.import_dataset(project, faces.subset(np.arange(pool_size)), split="pool")
    imports.import_dataset(project, faces.subset(np.arange(pool_size, pool_size + test_size)), split="test")
    cycles.start_labeling(project)
    return project, faces


def label_batch(project, faces) -> None:
    """Vote the true class on every face of the current batch through the vote service."""
    from annotator.models import Item
    from annotator.services import cycles, votes

    truth = dict(zip(faces.names, faces.labels.tolist(), strict=True))
    cycle = cycles.current_cycle(project)
    for entry in cycle.entries.select_related("item"):
        item: Item = entry.item
        answer = votes.Answer("label", (truth[item.source_name],))
        votes.submit_vote(project, project.owner, item_id=item.pk, answer=answer, client_id=uuid.uuid4())


def run_job(project) -> dict:
    from annotator.models import Job, JobKind
    from annotator.services.training import run_training_job

    job = Job.objects.get(project=project, kind=JobKind.TRAIN)
    started = time.perf_counter()
    state = run_training_job(job.pk)
    total = time.perf_counter() - started
    job.refresh_from_db()
    if state != "succeeded":
        raise SystemExit(f"the training job ended {state}: {job.message}")
    return {"total": total, **job.result["seconds"], "next_batch": job.result["next_batch"]}


def run_baseline(faces, project, batch: int, epochs: int) -> dict:
    """The same ml_engine work on in-memory faces: no database, no files."""
    from annotator.models import Item
    from ml_engine.inference import predict
    from ml_engine.strategies import SelectionInputs, select_batch
    from ml_engine.training.supervised import TrainConfig, fit

    labeled_names = set(
        Item.objects.filter(project=project, label_index__isnull=False).values_list("source_name", flat=True)
    )
    pool_size = len(faces) - int((faces.splits == "test").sum())
    pool = faces.subset(np.arange(pool_size))
    is_labeled = np.asarray([name in labeled_names for name in pool.names])
    train = pool.subset(np.flatnonzero(is_labeled))
    seconds = {}
    clock = time.perf_counter()
    model = fit(TrainConfig(epochs=epochs, seed=project.seed), train).model
    seconds["train"], clock = time.perf_counter() - clock, time.perf_counter()
    scored = predict(model, pool)
    seconds["score"], clock = time.perf_counter() - clock, time.perf_counter()
    inputs = SelectionInputs(
        pool_size=len(pool), probabilities=scored.probabilities, labeled=np.flatnonzero(is_labeled)
    )
    select_batch("least_confidence", inputs, batch, seed=0)
    seconds["select"] = time.perf_counter() - clock
    return {"total": sum(seconds.values()), **seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=5000)
    parser.add_argument("--test", type=int, default=500)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="faceloop-bench-") as scratch, ProcessGroup() as group:
        port = free_port()
        group.add(start_redis(port, Path(scratch) / "redis", log=Path(scratch) / "redis.log"))
        os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
        configure_django(Path(scratch), args.epochs)
        clock = time.perf_counter()
        project, faces = build_project(args.pool, args.test, args.batch, args.seed)
        setup = time.perf_counter() - clock
        label_batch(project, faces)
        real = run_job(project)
        baseline = run_baseline(faces, project, args.batch, args.epochs)
    print(
        f"pool {args.pool} faces, test {args.test}, batch {args.batch}, ResNet-18 48 px, {args.epochs} epochs, CPU"
    )
    print(f"setup (generate + import + start): {setup:.1f} s")
    print(f"{'stage':<8} {'FaceLoop job (s)':>17} {'bare ml_engine (s)':>19} {'ratio':>7}")
    for stage in ("train", "score", "select", "total"):
        print(
            f"{stage:<8} {real[stage]:>17.2f} {baseline[stage]:>19.2f} {real[stage] / baseline[stage]:>7.2f}"
        )
    print(f"next batch: {real['next_batch']} faces queued")


if __name__ == "__main__":
    main()
