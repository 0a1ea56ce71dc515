"""Celery tasks: thin adapters that take ids, call a service or the ml_bridge, return small status.

Every worker also runs the job watchdog (``services.job_watchdog``) in a thread of its main
process, started when the worker is ready: the stack needs no extra process to re-queue the
jobs of a dead worker or to send the jobs queued while Redis was down.
"""

from __future__ import annotations

import os
import socket

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

from annotator.queues import (
    COMPARE_STRATEGIES_TASK,
    EXPORT_TASK,
    PRETRAIN_TASK,
    TRAIN_CYCLE_TASK,
    WORKER_STATUS_TASK,
)
from annotator.services import job_watchdog
from annotator.services.comparisons import run_comparison_job
from annotator.services.exports import run_export_job
from annotator.services.pretraining import run_pretraining_job
from annotator.services.training import run_training_job


@worker_ready.connect
def start_job_watchdog(**_: object) -> None:
    """Sweep jobs every ``JOB_SWEEP_SECONDS`` while this worker runs (each sweep is idempotent)."""
    job_watchdog.start_watchdog()


@shared_task(name=WORKER_STATUS_TASK, soft_time_limit=20, time_limit=30)
def worker_status_task() -> dict[str, object]:
    """Report which worker process ran this and how it is configured (used by checks and tests)."""
    return {"hostname": socket.gethostname(), "pid": os.getpid(), "torch_device": settings.TORCH_DEVICE}


@shared_task(name=TRAIN_CYCLE_TASK, ignore_result=True, soft_time_limit=6 * 3600 - 60, time_limit=6 * 3600)
def train_cycle_task(job_id: int) -> str:
    """Train, score and select for one training job (queue ``train``); idempotent per job."""
    return run_training_job(job_id)


@shared_task(name=EXPORT_TASK, ignore_result=True, soft_time_limit=3600 - 60, time_limit=3600)
def export_task(job_id: int) -> str:
    """Write a label-set or model export (queue ``default``); idempotent per job."""
    return run_export_job(job_id)


@shared_task(name=PRETRAIN_TASK, ignore_result=True, soft_time_limit=6 * 3600 - 60, time_limit=6 * 3600)
def pretrain_task(job_id: int) -> str:
    """Self-supervised pre-training on the pool, then embeddings and index (queue ``train``)."""
    return run_pretraining_job(job_id)


@shared_task(
    name=COMPARE_STRATEGIES_TASK,
    ignore_result=True,
    soft_time_limit=6 * 3600 - 60,
    time_limit=6 * 3600,
)
def compare_strategies_task(job_id: int) -> str:
    """Replay the labeling loop per strategy and seed on the project's labels (queue ``train``)."""
    return run_comparison_job(job_id)
