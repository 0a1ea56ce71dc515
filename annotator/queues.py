"""Celery queue and task names, spelled once: settings route by them, services enqueue by them.

Model jobs (training, pre-training, strategy comparisons) run on the ``train`` queue, whose
workers each hold one accelerator and run one job at a time; exports and everything else run
on ``default``, so a long training never delays a download. Every queue needs a worker (the
health check asks for one on each).

This module imports nothing, so ``settings.py`` can read it before Django is set up.
"""

from __future__ import annotations

TRAIN_QUEUE = "train"
DEFAULT_QUEUE = "default"
QUEUES = (TRAIN_QUEUE, DEFAULT_QUEUE)

TRAIN_CYCLE_TASK = "annotator.train_cycle_task"
PRETRAIN_TASK = "annotator.pretrain_task"
COMPARE_STRATEGIES_TASK = "annotator.compare_strategies_task"
EXPORT_TASK = "annotator.export_task"
WORKER_STATUS_TASK = "annotator.worker_status_task"

TASK_QUEUES = {
    TRAIN_CYCLE_TASK: TRAIN_QUEUE,
    PRETRAIN_TASK: TRAIN_QUEUE,
    COMPARE_STRATEGIES_TASK: TRAIN_QUEUE,
    EXPORT_TASK: DEFAULT_QUEUE,
}
"""The queue of each task a service enqueues; any other task (the worker probe) goes to ``default``."""


def celery_task_routes() -> dict[str, dict[str, str]]:
    """``CELERY_TASK_ROUTES``: each task of :data:`TASK_QUEUES` to its queue."""
    return {task: {"queue": queue} for task, queue in TASK_QUEUES.items()}
