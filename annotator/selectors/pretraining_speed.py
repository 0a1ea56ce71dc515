"""How long a project's pre-training takes, said before it starts. No writes.

Pre-training runs ``FACELOOP_PRETRAIN_EPOCHS`` over the pool, raised until it takes
``FACELOOP_PRETRAIN_MIN_STEPS`` optimiser steps
(:func:`~annotator.ml_bridge.pretraining.pretraining_schedule`), so its length is its steps
times its batch at this machine's pre-training speed. That speed is measured on this
installation's own finished pre-trainings: each job's result keeps the schedule it ran, and
``started_at`` to ``finished_at`` is its length (embedding and indexing the pool included, as
the owner waits for them too). It is not derived from supervised training's speed: a
contrastive step on two augmented views of 256 faces is another workload, and a made-up ratio
would be a guess shown as a figure. Until a pre-training has finished here, the steps are said
and the time is said to be unknown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.conf import settings

from annotator.ml_bridge.pretraining import (
    SCHEDULE_KEY,
    PretrainingSchedule,
    first_batch_step,
    pretraining_schedule,
)
from annotator.models import InitialSelection, Job, JobKind, JobState, Project, SslMethod
from annotator.selectors.training_speed import duration

RECENT_PRETRAININGS = 10
"""Only the newest pre-trainings count: the machine (or its load) may have changed since older ones."""


@dataclass(frozen=True)
class PretrainingSpeed:
    """Faces through the optimiser per second, measured over ``pretrainings`` finished here (None: none)."""

    images_per_second: float | None
    pretrainings: int

    def describe(self) -> str:
        if self.images_per_second is None:
            return "no pre-training has finished on this machine yet"
        plural = "s" if self.pretrainings != 1 else ""
        return (
            f"measured on this machine: {self.images_per_second:.0f} faces/s "
            f"over its last {self.pretrainings} pre-training{plural}"
        )

    def as_dict(self) -> dict[str, object]:
        rate = None if self.images_per_second is None else round(self.images_per_second, 1)
        return {"images_per_second": rate, "pretrainings": self.pretrainings, "source": self.describe()}


def pretraining_speed() -> PretrainingSpeed:
    """Faces per optimiser step times steps, over seconds, of this installation's newest pre-trainings."""
    jobs = (
        Job.objects.filter(
            kind=JobKind.PRETRAIN,
            state=JobState.SUCCEEDED,
            started_at__isnull=False,
            finished_at__isnull=False,
            result__has_key=SCHEDULE_KEY,
        )
        .order_by("-finished_at", "-id")
        .values_list("result", "started_at", "finished_at")[:RECENT_PRETRAININGS]
    )
    images = seconds = 0.0
    counted = 0
    for result, started, finished in jobs:
        schedule = result[SCHEDULE_KEY]
        length = (finished - started).total_seconds()
        if length <= 0 or not schedule.get("steps"):
            continue
        images += schedule["steps"] * schedule["batch_size"]
        seconds += length
        counted += 1
    return PretrainingSpeed(images / seconds if counted else None, counted)


def pretraining_estimate(project: Project, faces: int) -> dict[str, object]:
    """What the project's pre-training over ``faces`` pool faces will run, and about how long it
    takes at this machine's measured speed (``seconds`` None: unknown), in one sentence."""
    speed = pretraining_speed()
    estimate: dict[str, object] = {"runs": False, "faces": faces, "epochs": None, "steps": None}
    estimate |= {"seconds": None, "speed": speed.as_dict()}
    if project.ssl_method == SslMethod.NONE:
        return estimate | {"sentence": "No pre-training: the first model starts from scratch."}
    if faces < 2:
        return estimate | {"sentence": "Pre-training's length is known once the pool's faces are imported."}
    schedule = pretraining_schedule(
        faces, epochs=settings.FACELOOP_PRETRAIN_EPOCHS, min_steps=settings.FACELOOP_PRETRAIN_MIN_STEPS
    )
    seconds = (
        None
        if speed.images_per_second is None
        else max(1, math.ceil(schedule.steps * schedule.batch_size / speed.images_per_second))
    )
    runs = (
        f"Pre-training ({project.get_ssl_method_display()}) runs {schedule.epochs} epochs over "
        f"{faces} pool faces ({schedule.steps} optimiser steps)"
    )
    length = (
        f"about {duration(seconds)} ({speed.describe()})"
        if seconds is not None
        else f"how long is unknown: {speed.describe()}"
    )
    waits = (
        f" {first_batch_wait(schedule, seconds)}; the test sample can be labeled meanwhile."
        if project.initial_selection != InitialSelection.RANDOM
        else ""
    )
    return estimate | {
        "runs": True,
        "epochs": schedule.epochs,
        "steps": schedule.steps,
        "seconds": seconds,
        "sentence": f"{runs}: {length}.{waits}",
    }


def first_batch_wait(schedule: PretrainingSchedule, seconds: int | None) -> str:
    """When a representative first batch is picked: on the embeddings after the epoch that reaches
    ``FACELOOP_FIRST_BATCH_STEPS`` steps, else at the end."""
    step = first_batch_step(schedule, settings.FACELOOP_FIRST_BATCH_STEPS)
    if step is None:
        return "The first batch waits for it"
    after = (
        ""
        if seconds is None
        else f", about {duration(max(1, math.ceil(seconds * step / schedule.steps)))} in"
    )
    return f"The first batch is picked on the embeddings after {step} of its steps{after}"
