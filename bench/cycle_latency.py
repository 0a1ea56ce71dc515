"""Time from the last vote of a batch to the next batch being ready: by stage, and per turn of the loop.

Part "turns" (issue 15): a labeler answering at a steady pace works through one project
with today's behaviour (strict batches, every model trained from scratch) and one with the
new one (continuous labeling, warm start), one after the other in the same run, against real
worker processes (one on the ``train`` queue, one on ``default``, as ``make run`` starts
them). Per completed batch it reports the labeler's idle time (last vote of the batch until
a face is on offer again) and the strategy-batch latency (last vote until a model trained
with that batch has published its ranking); then each project's test accuracy per model
version, cold against warm.

Part "stages":

A project of synthetic faces (default: 5,000 pool + 500 test, 48 px, ResNet-18, least
confidence) gets its initial batch labeled through the vote service (a real Redis server
receives the training job the last vote queues); then that job runs in this process,
exactly as a worker runs it (``annotator.services.training.run_training_job``), so the
stage times are not mixed with a worker's start-up. The job records each stage's seconds.

Baseline, in the same run: the same ``ml_engine`` calls (fit, predict, select_batch) on
the same faces already in memory, without the database, image files or the bridge. The
ratio is the price of the real path (decoding stored PNGs, writing checkpoint and scores).

    .venv/bin/python bench/cycle_latency.py [--part stages|turns|all] [--pool 5000] [--batch 500] [--epochs 10]
    .venv/bin/python bench/cycle_latency.py --part turns [--turn-pool 1000] [--turn-batch 50] [--turns 4]
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


def build_project(
    pool_size: int,
    test_size: int,
    batch: int,
    seed: int,
    *,
    name: str = "bench",
    budget: int | None = None,
    faces=None,
    **settings,
):
    from django.contrib.auth import get_user_model

    from annotator import ml_bridge
    from annotator.services import imports, labeling_start, projects

    faces = faces or ml_bridge.synthetic_faces(pool_size + test_size, seed=seed)
    owner, _ = get_user_model().objects.get_or_create(username="bench")
    project = projects.create_project(
        owner,
        name=name,
        classes=projects.default_class_specs(faces.class_names),
        budget_votes=budget or pool_size,
        batch_size=batch,
        initial_set_size=batch,
        strategy="least_confidence",
        ssl_method="none",
        initial_selection="random",
        **settings,
    )
    imports.import_dataset(project, faces.subset(np.arange(pool_size)), split="pool")
    imports.import_dataset(project, faces.subset(np.arange(pool_size, pool_size + test_size)), split="test")
    labeling_start.start_labeling(project)
    return project, faces


def label_batch(project, faces) -> None:
    """Vote the true class on every face of the current batch through the vote service."""
    from annotator import assignment
    from annotator.models import Face
    from annotator.services import votes

    truth = dict(zip(faces.names, faces.labels.tolist(), strict=True))
    cycle = assignment.current_cycle(project)
    for entry in cycle.entries.select_related("face"):
        face: Face = entry.face
        answer = votes.Answer("label", (truth[face.source_name],))
        votes.submit_vote(project, project.owner, face_id=face.pk, answer=answer, client_id=uuid.uuid4())


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
    from annotator.models import Face
    from ml_engine.inference import predict
    from ml_engine.strategies import SelectionInputs, select_batch
    from ml_engine.training.supervised import TrainConfig, fit

    labeled_names = set(
        Face.objects.filter(project=project, label_index__isnull=False).values_list("source_name", flat=True)
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


VARIANTS = {
    "today": {"continuous_labeling": False, "warm_start": False},
    "new": {"continuous_labeling": True, "warm_start": True},
}
"""Today's behaviour: strict batches, each model from scratch. New: continuous labeling, warm start."""


def start_workers(group: ProcessGroup, scratch: Path) -> None:
    """One worker on ``train`` and one on ``default``, as ``make run`` starts them; wait for both."""
    from annotator.celery import app
    from annotator.processes import start_worker, wait_until
    from annotator.queues import QUEUES

    for queue in QUEUES:
        hostname = f"bench-{queue}@faceloop"
        worker = group.add(
            start_worker(
                hostname=hostname,
                queues=queue,
                log=scratch / f"worker-{queue}.log",
                env={"OMP_NUM_THREADS": "1"},
            )
        )
        wait_until(
            lambda h=hostname: bool(app.control.ping(destination=[h], timeout=0.5)),
            120,
            f"the {queue} worker",
            worker,
        )


def label_at_pace(project, faces, seconds_per_vote: float, timeout: float) -> list[dict]:
    """One labeler answering the true class every ``seconds_per_vote`` until the budget is spent.

    Returns one row per completed batch: when its last vote landed and how long the labeler
    then waited for a face.
    """
    from annotator import assignment
    from annotator.models import Cycle, Job, JobState
    from annotator.services import votes

    truth = dict(zip(faces.names, faces.labels.tolist(), strict=True))
    completed: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        leases = assignment.next_faces(project, project.owner, 1)
        if leases:
            if completed and completed[-1]["idle"] is None:
                completed[-1]["idle"] = time.monotonic() - completed[-1]["at"]
            time.sleep(seconds_per_vote)
            face = leases[0].entry.face
            answer = votes.Answer("label", (truth[face.source_name],))
            result = votes.submit_vote(
                project, project.owner, face_id=face.pk, answer=answer, client_id=uuid.uuid4()
            )
            if result.batch_completed:
                cycle = Cycle.objects.get(pk=result.vote.cycle_id)
                completed.append(
                    {
                        "cycle": cycle.number,
                        "at": time.monotonic(),
                        "completed_at": cycle.labeling_completed_at,
                        "idle": None,
                    }
                )
            continue
        project.refresh_from_db()
        failed = Job.objects.filter(project=project, state=JobState.FAILED).first()
        if failed is not None:
            raise SystemExit(f"job {failed.pk} failed: {failed.message}")
        busy = Job.objects.filter(project=project, state__in=[JobState.QUEUED, JobState.RUNNING]).exists()
        if project.votes_left < project.votes_per_face and not busy:
            return completed
        time.sleep(0.05)
    raise SystemExit(f"project {project.name} did not finish within {timeout:.0f} s")


def strategy_batch_latency(project, completed_at) -> float | None:
    """Seconds from a batch's completion until a model trained with it was published."""
    from annotator.models import Job, JobKind, JobState, ModelVersion

    jobs = Job.objects.filter(
        project=project, kind=JobKind.TRAIN, state=JobState.SUCCEEDED, started_at__gte=completed_at
    )
    published = [
        ModelVersion.objects.get(project=project, version=job.result["model_version"]).created_at
        for job in jobs
    ]
    return (min(published) - completed_at).total_seconds() if published else None


def run_turns(args, scratch: Path) -> dict[str, dict]:
    from annotator import ml_bridge
    from annotator.models import ModelVersion

    faces = ml_bridge.synthetic_faces(
        args.turn_pool + args.turn_test, seed=args.seed, image_size=args.image_size
    )
    results = {}
    for name, settings in VARIANTS.items():
        project, _ = build_project(
            args.turn_pool,
            args.turn_test,
            args.turn_batch,
            args.seed,
            name=name,
            faces=faces,
            budget=args.turn_batch * (args.turns + 1),
            model_name=args.model,
            image_size=args.image_size,
            **settings,
        )
        started = time.monotonic()
        completed = label_at_pace(project, faces, args.seconds_per_vote, timeout=args.timeout)
        for row in completed:
            row["strategy"] = strategy_batch_latency(project, row["completed_at"])
        curve = [
            (v.version, v.labels_used, v.started_from, v.metrics.get("accuracy"))
            for v in ModelVersion.objects.filter(project=project).order_by("version")
        ]
        results[name] = {"turns": completed, "curve": curve, "wall": time.monotonic() - started}
    return results


def print_turns(args, results: dict[str, dict]) -> None:
    print(
        f"turns: pool {args.turn_pool} faces, test {args.turn_test}, batch {args.turn_batch}, budget "
        f"{args.turn_batch * (args.turns + 1)} votes, {args.model} {args.image_size} px, {args.epochs} epochs "
        f"from scratch / FACELOOP_WARM_START_EPOCHS {os.environ['FACELOOP_WARM_START_EPOCHS']} warm, one labeler "
        f"answering every {args.seconds_per_vote} s, real workers (train, default), CPU"
    )
    print(f"{'variant':<7} {'batch':>5} {'labeler idle (s)':>17} {'strategy batch (s)':>19}")
    for name, result in results.items():
        for row in result["turns"]:
            strategy = "final" if row["strategy"] is None else f"{row['strategy']:.1f}"
            idle = "-" if row["idle"] is None else f"{row['idle']:.2f}"
            print(f"{name:<7} {row['cycle']:>5} {idle:>17} {strategy:>19}")
    for name, result in results.items():
        idle = [row["idle"] for row in result["turns"] if row["idle"] is not None]
        strategy = [row["strategy"] for row in result["turns"] if row["strategy"] is not None]
        print(
            f"{name}: labeler idle total {sum(idle):.1f} s, median per turn {np.median(idle):.2f} s; "
            f"strategy batch median {np.median(strategy):.1f} s; whole budget labeled in {result['wall']:.0f} s"
        )
    print(f"{'variant':<7} {'model':>5} {'labels':>6} {'started from':>12} {'test accuracy':>13}")
    for name, result in results.items():
        for version, labels, started_from, accuracy in result["curve"]:
            print(f"{name:<7} {'v' + str(version):>5} {labels:>6} {started_from:>12} {accuracy:>13.3f}")


def run_stages(args, scratch: Path) -> None:
    clock = time.perf_counter()
    # Strict batches: the job selects one batch, as the bare baseline does (no reserve ranked).
    project, faces = build_project(args.pool, args.test, args.batch, args.seed, continuous_labeling=False)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["stages", "turns", "all"], default="all")
    parser.add_argument("--pool", type=int, default=5000)
    parser.add_argument("--test", type=int, default=500)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--turn-pool", type=int, default=1000)
    parser.add_argument("--turn-test", type=int, default=200)
    parser.add_argument("--turn-batch", type=int, default=50)
    parser.add_argument("--turns", type=int, default=4, help="batches after the initial one")
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--image-size", type=int, default=48)
    parser.add_argument("--seconds-per-vote", type=float, default=0.5)
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="faceloop-bench-") as scratch, ProcessGroup() as group:
        port = free_port()
        group.add(start_redis(port, Path(scratch) / "redis", log=Path(scratch) / "redis.log"))
        os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
        os.environ.setdefault("FACELOOP_WARM_START_EPOCHS", str(max(1, args.epochs // 3)))
        configure_django(Path(scratch), args.epochs)
        if args.part in ("stages", "all"):
            # Its training job runs in this process: no worker may take it from the queue.
            run_stages(args, Path(scratch))
        if args.part in ("turns", "all"):
            start_workers(group, Path(scratch))
            print_turns(args, run_turns(args, Path(scratch)))


if __name__ == "__main__":
    main()
