"""Workers on hosts that share no disk: two worker processes, each with its own empty local folder.

The files live in a bucket of a real S3 server process; one worker takes the ``train`` queue
(pre-training and training), the other the ``default`` queue (exports), so the export reads
the model and faces another "host" wrote. The same loop then runs on one worker holding both
queues, and both runs must agree: the same initial set, the same model-picked batch and the
same exported labels, face by face (same seed, same data). Nothing is written under
``MEDIA_ROOT`` by either.
"""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from annotator import file_store, processes
from annotator.models import Cycle, Face, Job, JobKind, JobState, ModelVersion, Project
from annotator.services import exports, labeling_start, votes
from tests.annotator.factories import synthetic_loop_project
from tests.conftest import launch_worker

pytestmark = [pytest.mark.integration, pytest.mark.slow]

POOL, TEST, BATCH = 48, 16, 12
WAIT_SECONDS = 240


@pytest.fixture
def worker_env() -> dict[str, str]:
    return {"FACELOOP_TRAIN_EPOCHS": "2", "FACELOOP_PRETRAIN_EPOCHS": "1"}


def wait_for(predicate, what: str, logs: list[Path]) -> None:
    def done() -> bool:
        failed = Job.objects.filter(state=JobState.FAILED).first()
        if failed is not None:
            raise RuntimeError(f"job {failed.pk} ({failed.kind}) failed: {failed.message}")
        return predicate()

    try:
        processes.wait_until(done, WAIT_SECONDS, what)
    except (TimeoutError, RuntimeError) as error:
        tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs if log.exists())
        raise AssertionError(f"{error}\n{tails}") from error


def batch_names(project: Project, number: int) -> list[str]:
    cycle = Cycle.objects.get(project=project, number=number)
    return list(cycle.entries.order_by("position").values_list("face__source_name", flat=True))


def run_loop(name: str, logs: list[Path]) -> dict[str, object]:
    """Pre-train, label the initial set, train, let model v1 pick a batch, export the labels and the model."""
    project, truth = synthetic_loop_project(
        name, pool=POOL, test=TEST, batch=BATCH, budget_votes=2 * BATCH, faces_seed=11, seed=7
    )
    labeling_start.start_labeling(project)
    wait_for(lambda: Cycle.objects.get(project=project, number=0).entries.exists(), "the initial set", logs)
    initial = batch_names(project, 0)
    for face in Face.objects.filter(project=project, source_name__in=initial):
        answer = votes.Answer("label", (truth[face.source_name],))
        votes.submit_vote(project, project.owner, face_id=face.pk, answer=answer, client_id=uuid.uuid4())
    wait_for(
        lambda: Cycle.objects.filter(project=project, number=1, selected_by__version=1).exists(),
        "model v1's batch",
        logs,
    )
    export = exports.request_export(project, what="labels", format="csv")
    model_export = exports.request_export(project, what="model", format="pytorch")  # reads the checkpoint
    finished = Job.objects.filter(pk__in=[export.pk, model_export.pk], state=JobState.SUCCEEDED)
    wait_for(lambda: finished.count() == 2, "the exports", logs)
    with file_store.open_object(Job.objects.get(pk=export.pk).result["file"]).body as handle:
        rows = list(csv.DictReader(io.StringIO(handle.read().decode("utf-8"))))
    model = ModelVersion.objects.get(project=project, version=1)
    return {
        "initial": initial,
        "picked": batch_names(project, 1),
        "labels": sorted(tuple(sorted(row.items())) for row in rows),
        "accuracy": model.metrics["accuracy"],
        "pretraining": Job.objects.get(project=project, kind=JobKind.PRETRAIN).result["checkpoint"],
    }


def files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()] if folder.exists() else []


def test_two_workers_without_a_shared_disk_match_one_worker(
    transactional_db, s3_storage, worker_process_env, tmp_path: Path
) -> None:
    environment = {**worker_process_env, **s3_storage}
    hosts = {name: tmp_path / name for name in ("train-host", "export-host", "single-host")}
    logs = [tmp_path / f"{name}.log" for name in hosts]
    with processes.ProcessGroup() as group:
        for name, queues in (("train-host", "train"), ("export-host", "default")):
            env = {**environment, "FACELOOP_LOCAL_DIR": str(hosts[name])}
            group.add(launch_worker(env, tmp_path / f"{name}.log", queues=queues))
        two_hosts = run_loop("two-hosts", logs)
    assert files_under(hosts["export-host"] / "files"), (
        "the export worker fetched what it read from the bucket"
    )
    with processes.ProcessGroup() as group:
        env = {**environment, "FACELOOP_LOCAL_DIR": str(hosts["single-host"])}
        group.add(launch_worker(env, tmp_path / "single-host.log", queues="default,train"))
        one_host = run_loop("one-host", logs)

    assert two_hosts["pretraining"] != one_host["pretraining"]  # two projects, each its own files
    for key in ("initial", "picked", "labels", "accuracy"):
        assert two_hosts[key] == one_host[key], key
    assert len(two_hosts["picked"]) == BATCH and not set(two_hosts["picked"]) & set(two_hosts["initial"])
    assert files_under(Path(settings.MEDIA_ROOT)) == []
