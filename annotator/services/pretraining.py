"""Cold start: self-supervised pre-training on the whole pool while the first batch is labeled.

Seed 000 shows active learning on faces suffers a cold start that pre-training on the
unlabeled pool fixes (SimCLR + least confidence: 67.11 vs 65.63 on FER13). When labeling
starts, a pre-training job runs on the ``train`` queue; the initial batch (random, as in
the paper) needs no model, so annotators start at once. Pre-training has its own claim
(one pre-training job per project), apart from training's, so a batch completed during
pre-training is trained at once, from scratch, by another ``train`` worker; every training
that starts after pre-training finished starts from the newest pre-trained backbone.

A representative first batch (k-means, TypiClust) needs the pool's embeddings. It is picked on
the embeddings after ``FACELOOP_FIRST_BATCH_STEPS`` optimiser steps, while pre-training goes on,
so labelers wait for that part of the run only (``bench/early_first_batch.py`` measures what
picking early costs against waiting); 0 waits for the whole run.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction

from annotator.ml_bridge import pretraining as pretraining_bridge
from annotator.models import Job, JobKind, Project, SslMethod
from annotator.queues import PRETRAIN_TASK
from annotator.services import cycles, fallback_order, jobs
from annotator.services.cycle_inputs import cycle_inputs

logger = logging.getLogger(__name__)


def request_pretraining(project: Project) -> Job | None:
    """Queue pre-training for ``project`` (none when its SSL method is "none" or pre-training runs)."""
    if project.ssl_method == SslMethod.NONE:
        return None
    try:
        with transaction.atomic():
            job = jobs.create_job(
                project, JobKind.PRETRAIN, stage="queued", message=f"{project.ssl_method} pre-training"
            )
    except IntegrityError:
        logger.info("project %s: pre-training already runs; not queued again", project.pk)
        return None
    transaction.on_commit(lambda: jobs.enqueue(job, PRETRAIN_TASK))
    return job


def run_pretraining_job(job_id: int) -> str:
    """Pre-train, embed the pool and index it (called by the worker); returns the final state."""
    return jobs.run_job(job_id, stage="pretrain", work=_pretrain)


def _pretrain(job: Job) -> jobs.JobDone:
    """Pre-train; a first batch waiting for representative picks gets them on the embeddings after
    ``FACELOOP_FIRST_BATCH_STEPS`` steps (else at the end; random if pre-training failed), and
    representative faces are kept for batches no model has ranked yet (the first turn)."""
    project = job.project
    try:
        artefacts = pretraining_bridge.pretrain_and_index(
            cycle_inputs(project, epochs=settings.FACELOOP_PRETRAIN_EPOCHS),
            project.ssl_method,
            jobs.job_dir(job),
            min_steps=settings.FACELOOP_PRETRAIN_MIN_STEPS,
            device=settings.TORCH_DEVICE,
            progress=jobs.progress_reporter(job),
            cancel=jobs.cancel_flag(job),
            first_batch_steps=settings.FACELOOP_FIRST_BATCH_STEPS,
            first_batch=lambda embeddings: cycles.complete_initial_set(project, embeddings),
        )
        cycles.complete_initial_set(project, Path(artefacts["embeddings"]))
    except Exception:
        cycles.complete_initial_set(project, None)
        raise
    jobs.publish_outputs(job)
    kept = ("losses", pretraining_bridge.SCHEDULE_KEY)
    files = {key: jobs.stored_name(value) for key, value in artefacts.items() if key not in kept}
    try:
        reserve = fallback_order.representative_reserve(project, Path(artefacts["embeddings"]))
    except Exception:  # the reserve only orders fallback faces; the pre-trained backbone stands without it
        logger.exception(
            "project %s: no representative reserve; fallback batches are drawn at random", project.pk
        )
        reserve = []
    return jobs.JobDone(
        "pool pre-trained and indexed",
        {
            **files,
            **{key: artefacts[key] for key in kept},
            fallback_order.REPRESENTATIVE_KEY: reserve,
        },
    )
