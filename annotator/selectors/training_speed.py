"""How fast this installation trains, measured on its own finished trainings. No writes.

A retrain's length is what the budget planner and the dashboard's "next model in" promise, and
it depends on the machine (CPU or GPU, its cores) far more than on anything a project sets. So
the figure is measured: each succeeded training job knows how long it ran (``started_at`` to
``finished_at``), how many labeled faces its model version used and for how many epochs, so
the images it saw (:func:`images_seen`) over its seconds is the images per second this machine
trained at. Until a training has finished here, :data:`DEFAULT_IMAGES_PER_SECOND` stands in,
labeled as a default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from annotator.models import Face, Job, JobKind, JobState, ModelVersion, Project, Split

DEFAULT_IMAGES_PER_SECOND = 200.0
"""Images per second assumed before any training finished here: a ResNet-18 on 48 px gray faces
on a few CPU cores (a GPU is several times faster). Shown as "a default", never as measured."""

TRAIN_BATCH_FACES = 20
"""Faces per optimiser step of a training (``ml_engine.training.supervised.TrainConfig.batch_size``;
a test checks they agree): with ``FACELOOP_MIN_TRAIN_STEPS`` it sets the least images a training sees."""

RECENT_TRAININGS = 20
"""Only the newest trainings count: the machine (or its load) may have changed since older ones."""


@dataclass(frozen=True)
class TrainingSpeed:
    """Images per second, and whether they were measured here (and on how many trainings)."""

    images_per_second: float
    trainings: int

    @property
    def measured(self) -> bool:
        return self.trainings > 0

    def describe(self) -> str:
        if self.measured:
            plural = "s" if self.trainings != 1 else ""
            return (
                f"measured on this machine: {self.images_per_second:.0f} images/s "
                f"over its last {self.trainings} training{plural}"
            )
        return f"a default of {self.images_per_second:.0f} images/s: no training has finished on this machine yet"

    def as_dict(self) -> dict[str, object]:
        return {
            "images_per_second": round(self.images_per_second, 1),
            "measured": self.measured,
            "trainings": self.trainings,
            "source": self.describe(),
        }


@dataclass(frozen=True)
class StageSpeeds:
    """Training and scoring apart, from the seconds each training job's stages took.

    A training job also scores its whole pool; a strategy comparison trains as much but scores
    only the labeled faces, so pricing its scoring at whole-job speed overestimates it.
    """

    train_images_per_second: float
    """Images trained per second in the train stage (training, then the test split's evaluation)."""
    score_faces_per_second: float
    """Pool faces scored per second in the score stage."""
    trainings: int

    def describe(self) -> str:
        plural = "s" if self.trainings != 1 else ""
        return (
            f"measured on this machine: training {self.train_images_per_second:.0f} images/s, scoring "
            f"{self.score_faces_per_second:.0f} faces/s over its last {self.trainings} training{plural}"
        )


@dataclass(frozen=True)
class _FinishedTraining:
    images: int
    seconds: float
    result: dict[str, Any]


def _recent_trainings(**project_filter: object) -> list[_FinishedTraining]:
    """This installation's newest succeeded trainings that ran and made a model, of the projects
    ``project_filter`` selects (all by default)."""
    jobs = list(
        Job.objects.filter(
            kind=JobKind.TRAIN,
            state=JobState.SUCCEEDED,
            started_at__isnull=False,
            finished_at__isnull=False,
            result__has_key="model_version",
            **{f"project__{name}": value for name, value in project_filter.items()},
        )
        .order_by("-finished_at", "-id")
        .values_list("project_id", "result", "started_at", "finished_at")[:RECENT_TRAININGS]
    )
    labels = {
        (project_id, version): used
        for project_id, version, used in ModelVersion.objects.filter(
            project_id__in={job[0] for job in jobs}
        ).values_list("project_id", "version", "labels_used")
    }
    trainings = []
    for project_id, result, started, finished in jobs:
        used = labels.get((project_id, result["model_version"]))
        seconds = (finished - started).total_seconds()
        if used and seconds > 0:
            epochs = int(result.get("epochs") or settings.FACELOOP_TRAIN_EPOCHS)
            trainings.append(_FinishedTraining(images_seen(used, epochs), seconds, result))
    return trainings


def training_speed() -> TrainingSpeed:
    """Images per second over this installation's newest succeeded trainings (all projects)."""
    trainings = _recent_trainings()
    if not trainings:
        return TrainingSpeed(DEFAULT_IMAGES_PER_SECOND, 0)
    return TrainingSpeed(sum(t.images for t in trainings) / sum(t.seconds for t in trainings), len(trainings))


def stage_speeds(model_name: str, image_size: int) -> StageSpeeds | None:
    """Training and scoring speeds from the newest trainings of projects with this network and
    image size that recorded their stages' seconds and the faces they scored; None before any did.

    Only the same network at the same size counts: a small CNN at 32 px trains an order of
    magnitude faster than a ResNet-18 at 48 px on the same machine.
    """
    staged = [
        t
        for t in _recent_trainings(model_name=model_name, image_size=image_size)
        if t.result.get("scored_faces")
        and t.result.get("seconds", {}).get("train", 0) > 0
        and t.result["seconds"].get("score", 0) > 0
    ]
    if not staged:
        return None
    return StageSpeeds(
        sum(t.images for t in staged) / sum(t.result["seconds"]["train"] for t in staged),
        sum(t.result["scored_faces"] for t in staged) / sum(t.result["seconds"]["score"] for t in staged),
        len(staged),
    )


def training_epochs(project: Project, *, has_model: bool) -> int:
    """Epochs the project's next training runs: fewer when it warm-starts from a model."""
    if project.warm_start and has_model:
        return settings.FACELOOP_WARM_START_EPOCHS
    return settings.FACELOOP_TRAIN_EPOCHS


def images_seen(labels: int, epochs: int) -> int:
    """Images a training on ``labels`` faces for ``epochs`` epochs goes through: every face each
    epoch, but never fewer than the low-variance floor of ``FACELOOP_MIN_TRAIN_STEPS`` steps, which
    makes the first small trainings as long as one on a few hundred faces."""
    return max(labels * epochs, settings.FACELOOP_MIN_TRAIN_STEPS * TRAIN_BATCH_FACES)


def retrain_seconds(labels: int, epochs: int, speed: TrainingSpeed) -> int:
    """Seconds a training on ``labels`` faces for ``epochs`` epochs takes at ``speed`` (at least 1)."""
    return max(1, math.ceil(images_seen(labels, epochs) / speed.images_per_second))


def duration(seconds: int) -> str:
    """Seconds as people read them: "40 s", "12 min", "1.5 h"."""
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def next_model(project: Project, batch: dict[str, int] | None, *, has_model: bool) -> dict[str, object]:
    """When the next model comes, for the dashboard: a running training's time left, else the votes
    the open ``batch`` (its :func:`~annotator.assignment.cycle_progress`) still needs and the
    training's length after them, at this machine's measured speed (or the labeled default)."""
    labeled = (
        Face.objects.filter(project=project, split=Split.POOL, excluded=False)
        .filter(Q(label_index__isnull=False) | Q(reviewed_label__isnull=False))
        .count()
    )
    labels = labeled + (0 if batch is None else batch["faces"] - batch["faces_complete"])
    votes_to_go = 0 if batch is None else max(batch["votes_needed"] - batch["votes_received"], 0)
    speed = training_speed()
    seconds = retrain_seconds(labels, training_epochs(project, has_model=has_model), speed)
    started = (
        Job.objects.filter(
            project=project, kind=JobKind.TRAIN, state=JobState.RUNNING, started_at__isnull=False
        )
        .values_list("started_at", flat=True)
        .first()
    )
    left = None if started is None else max(seconds - int((timezone.now() - started).total_seconds()), 0)
    if left is not None:
        sentence = f"The next model is training: about {duration(left)} left of {duration(seconds)} ({speed.describe()})."
    elif batch is not None:
        sentence = (
            f"The next model trains once this batch's {votes_to_go} remaining votes are in, then takes "
            f"about {duration(seconds)} on {labels} labeled faces ({speed.describe()})."
        )
    else:
        sentence = "No model is coming next: no batch is being labeled."
    return {
        "training": started is not None,
        "labels": labels,
        "votes_to_go": votes_to_go,
        "train_seconds": seconds,
        "seconds_left": left,
        "speed": speed.as_dict(),
        "sentence": sentence,
    }
