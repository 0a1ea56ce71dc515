"""Trained model versions and the worker jobs that produce them (and imports, exports)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from annotator.models.projects import Project
from annotator.models.queue import Cycle


class ModelVersion(models.Model):
    """One trained model of a project: where its checkpoint lies and how well it did.

    ``metrics`` holds ``accuracy``, ``macro_f1``, ``per_class_recall`` (list) and
    ``confusion`` (C x C list) on the project's test split, as ``ml_engine.evaluation``
    computes them; it is empty when the project has no test set. ``crowd`` holds the
    Dawid-Skene crowd model fitted on the votes the model was trained from: per annotator
    (user id) the votes counted, the expected accuracy and the most frequent confusion.
    ``omni_supervision`` holds the omni-supervised selection the model trained with (empty
    when the project has it off): ``delta``, ``candidates``, ``kept``, ``per_class``,
    ``from_auxiliary``, or ``skipped`` with the reason.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="model_versions")
    cycle = models.ForeignKey(
        Cycle, null=True, blank=True, on_delete=models.SET_NULL, related_name="model_versions"
    )
    version = models.PositiveIntegerField()
    checkpoint = models.CharField(max_length=500, blank=True, help_text="Path under MEDIA_ROOT.")
    predictions = models.CharField(max_length=500, blank=True, help_text="Bulk file of pool scores.")
    labels_used = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=dict, blank=True)
    crowd = models.JSONField(default=dict, blank=True)
    ranking = models.JSONField(
        default=dict,
        blank=True,
        help_text="Pool faces this model ranked for labeling, best first: item_ids and predicted_classes.",
    )
    started_from = models.CharField(
        max_length=32, blank=True, help_text='What training started from: "scratch", "ssl" or "v<N>".'
    )
    omni_supervision = models.JSONField(
        default=dict,
        blank=True,
        help_text="Auxiliary faces trained with pseudo-labels: delta, kept per class.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "version"]
        constraints = [models.UniqueConstraint(fields=["project", "version"], name="model_version_unique")]

    def __str__(self) -> str:
        return f"{self.project} v{self.version}"


class JobKind(models.TextChoices):
    IMPORT = "import", "Import"
    PRETRAIN = "pretrain", "Self-supervised pre-training"
    TRAIN = "train", "Training"
    EXPORT = "export", "Export"
    COMPARE = "compare", "Strategy comparison"


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_JOB_STATES = (JobState.QUEUED, JobState.RUNNING)
MODEL_JOB_KINDS = (JobKind.PRETRAIN, JobKind.TRAIN, JobKind.COMPARE)


class Job(models.Model):
    """Background work with progress the UI can show and a flag the worker polls to cancel.

    At most one training job and one pre-training job per project are queued or running at a
    time (database constraints, so the claims survive any process dying). They are separate
    claims so the first model trains while pre-training still runs.

    A worker job is an outbox row first: ``dispatched_at`` is when its message was last handed
    to the broker, None while it never was (the broker was down), so a sweep sends it later.
    A running worker job names who runs it (``worker``, ``claim_token``) and when that worker
    last said it is alive (``heartbeat_at``): a fresh heartbeat makes any second delivery of
    the job a no-op, a stale one lets the watchdog re-queue or fail it
    (``services.job_watchdog``). Import jobs run inside their upload's request and have none.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="jobs")
    cycle = models.ForeignKey(Cycle, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    kind = models.CharField(max_length=16, choices=JobKind.choices)
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED)
    stage = models.CharField(max_length=64, blank=True)
    progress = models.FloatField(default=0.0, help_text="Fraction done, 0 to 1.")
    epoch = models.PositiveIntegerField(null=True, blank=True)
    loss = models.FloatField(null=True, blank=True)
    message = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)
    cancel_requested = models.BooleanField(default=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    celery_task_id = models.CharField(max_length=64, blank=True)
    dispatched_at = models.DateTimeField(
        null=True, blank=True, help_text="When its message last went to the broker; empty: not sent yet."
    )
    worker = models.CharField(max_length=255, blank=True, help_text="Host and process id of its worker.")
    claim_token = models.CharField(max_length=32, blank=True, help_text="Changes with every claim.")
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Its worker's last sign of life.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project"],
                condition=Q(kind=JobKind.TRAIN, state__in=ACTIVE_JOB_STATES),
                name="one_training_job_per_project",
            ),
            models.UniqueConstraint(
                fields=["project"],
                condition=Q(kind=JobKind.PRETRAIN, state__in=ACTIVE_JOB_STATES),
                name="one_pretraining_job_per_project",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} job {self.pk} ({self.state})"

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_JOB_STATES
