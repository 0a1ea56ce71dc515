"""Which model a strategy comparison replays, and how long the project's own would take. No writes.

Seed 000 finds that the best strategy depends on the data, and a verdict reached with one
network need not hold for another: a replay that trains a small CNN at 32 px may rank
strategies differently from the ResNet-18 on SimCLR features the project trains. So the honest
replay is the project's own model, backbone, first batch and warm starts
(``annotator.ml_bridge.comparisons``). It is also far slower on a CPU, so before a comparison
is queued the owner sees its length: the images it trains and scores over the images per
second this machine measured on its own trainings (:mod:`annotator.selectors.training_speed`).
Training and scoring are priced apart where the trainings recorded their stages' seconds.
Left to FaceLoop ("auto"), the project's model runs when that estimate fits in
``FACELOOP_COMPARISON_MINUTES``, and the stand-in otherwise; the owner may choose either.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.conf import settings

from annotator.ml_bridge.comparisons import (
    OWNER_WEIGHTS,
    PROJECT_MODEL,
    PROXY_IMAGE_SIZE,
    PROXY_MODEL,
    REPLAYS,
    SCRATCH,
    SSL_BACKBONE,
    replay_labels,
)
from annotator.models import InitialSelection, Project, TrainingMode
from annotator.selectors.classes import class_names
from annotator.selectors.model_versions import pretrained_backbone
from annotator.selectors.training_speed import duration, images_seen, stage_speeds, training_speed

AUTO = "auto"
CHOICES = (AUTO, *REPLAYS)
"""What an owner may ask for: FaceLoop's choice within the time limit, or one model outright."""


@dataclass(frozen=True)
class ProjectReplay:
    """How the project's own model would be replayed: where it starts and how it trains."""

    model_name: str
    image_size: int
    epochs: int
    started_from: str
    backbone: str | None
    """The stored file of ``started_from``'s weights; None from scratch."""
    initial_selection: str
    warm_start_epochs: int | None

    def describe(self, project: Project) -> str:
        starts = {
            SSL_BACKBONE: f"from its {project.get_ssl_method_display()} pre-training",
            OWNER_WEIGHTS: "from the owner's starting weights",
            SCRATCH: "from scratch (no pre-training has finished)",
        }[self.started_from]
        first = (
            "a random first batch"
            if self.initial_selection == InitialSelection.RANDOM
            else f"a {InitialSelection(self.initial_selection).label.split(': ')[-1]} first batch"
        )
        warm = (
            f"warm starts of {self.warm_start_epochs} epochs"
            if self.warm_start_epochs is not None
            else "every training afresh"
        )
        supervised = (
            ""
            if project.training_mode == TrainingMode.SUPERVISED
            else f", supervised on the aggregated labels (the {project.get_training_mode_display()} mode is not replayed)"
        )
        return (
            f"{project.get_model_name_display()} at {self.image_size} px {starts}, "
            f"{self.epochs} epochs, {first}, {warm}{supervised}"
        )


@dataclass(frozen=True)
class ComparisonPlan:
    """The model a comparison of ``runs`` (strategy, seed) runs would replay, and why."""

    asked: str
    replay: str
    labeled: int
    """Labeled pool faces the replay runs on."""
    runs: int
    project: ProjectReplay
    project_seconds: int
    """The estimate for replaying the project's model (the stand-in's length is not estimated)."""
    limit_seconds: int
    speed: str
    """Where the estimate's speeds come from (measured here, or the default)."""
    sentence: str

    def as_dict(self) -> dict[str, object]:
        """The plan as a job's request keeps it and the API answers it: the project's replay flat."""
        return {
            "asked": self.asked,
            "replay": self.replay,
            "runs": self.runs,
            "project_seconds": self.project_seconds,
            "limit_seconds": self.limit_seconds,
            "speed": self.speed,
            **asdict(self.project),
            "sentence": self.sentence,
        }


def project_replay(project: Project) -> ProjectReplay:
    """The project's model as its cycles train it now: the newest pre-training's backbone (else the
    owner's weights, else none), its first-batch method when there are pre-trained embeddings to
    pick on (the app draws at random without them), and its warm starts."""
    ssl = pretrained_backbone(project)
    if ssl is not None:
        started_from, backbone = SSL_BACKBONE, ssl
    elif project.backbone_weights:
        started_from, backbone = OWNER_WEIGHTS, str(project.backbone_weights)
    else:
        started_from, backbone = SCRATCH, None
    return ProjectReplay(
        model_name=project.model_name,
        image_size=project.image_size,
        epochs=settings.FACELOOP_TRAIN_EPOCHS,
        started_from=started_from,
        backbone=backbone,
        initial_selection=project.initial_selection
        if started_from == SSL_BACKBONE
        else InitialSelection.RANDOM,
        warm_start_epochs=settings.FACELOOP_WARM_START_EPOCHS if project.warm_start else None,
    )


@dataclass(frozen=True)
class ReplayWork:
    """What a replay computes: images it trains on and faces it scores (forward passes)."""

    trained: int
    scored: int


def replay_work(replay: ProjectReplay, labeled: int, test: int, num_classes: int, runs: int) -> ReplayWork:
    """The images the project's replay of ``runs`` runs trains on and the faces it scores.

    Per run, each training sees :func:`~annotator.selectors.training_speed.images_seen` (its
    labeled faces times its epochs, never fewer than the step floor allows) and is evaluated on
    the test faces, and each cycle but the last scores the pool it selects from; a
    representative first batch embeds the pool once.
    """
    counts = replay_labels(labeled, num_classes)
    trained = sum(
        images_seen(
            count,
            replay.epochs if cycle == 0 or replay.warm_start_epochs is None else replay.warm_start_epochs,
        )
        for cycle, count in enumerate(counts)
    )
    scored = len(counts) * test + (len(counts) - 1) * labeled
    embedded = labeled if replay.initial_selection != InitialSelection.RANDOM else 0
    return ReplayWork(runs * trained, runs * scored + embedded)


def replay_seconds(work: ReplayWork, replay: ProjectReplay) -> tuple[int, str]:
    """Seconds ``work`` takes on this machine, and where the speeds come from.

    With trainings of the replay's network and size that recorded their stages' seconds,
    training and scoring are priced apart (:func:`~annotator.selectors.training_speed.stage_speeds`);
    before any did, every face is priced at whole-training speed (its default until a training
    finished), an upper bound, since a forward pass costs less than a training step.
    """
    stages = stage_speeds(replay.model_name, replay.image_size)
    if stages is not None:
        seconds = work.trained / stages.train_images_per_second + work.scored / stages.score_faces_per_second
        return max(1, round(seconds)), stages.describe()
    speed = training_speed()
    return max(1, round((work.trained + work.scored) / speed.images_per_second)), speed.describe()


def comparison_plan(
    project: Project, *, labeled: int, test: int, runs: int, asked: str = AUTO
) -> ComparisonPlan:
    """What a comparison of ``runs`` runs on ``labeled`` pool and ``test`` test faces would replay.

    Raises:
        ValueError: ``asked`` is not one of :data:`CHOICES`.
    """
    if asked not in CHOICES:
        raise ValueError(f"model must be one of {', '.join(CHOICES)}")
    replay = project_replay(project)
    seconds, speed = replay_seconds(
        replay_work(replay, labeled, test, len(class_names(project)), runs), replay
    )
    limit = settings.FACELOOP_COMPARISON_MINUTES * 60
    chosen = asked if asked != AUTO else (PROJECT_MODEL if seconds <= limit else PROXY_MODEL)
    estimate = f"about {duration(seconds)} for {runs} run{'s' if runs != 1 else ''} ({speed})"
    own = replay.describe(project)
    if chosen == PROJECT_MODEL:
        over = f", over the {duration(limit)} limit for a comparison, as you chose" if seconds > limit else ""
        sentence = f"Replays your model: {own}. Takes {estimate}{over}."
    else:
        why = (
            "as you chose"
            if asked == PROXY_MODEL
            else f"since it exceeds this installation's {duration(limit)} limit for a comparison"
        )
        sentence = (
            f"Replays a stand-in, a small CNN at {PROXY_IMAGE_SIZE} px from scratch, {why}: "
            f"your model ({own}) would take {estimate}. Its verdict may not hold for your model."
        )
    return ComparisonPlan(asked, chosen, labeled, runs, replay, seconds, limit, speed, sentence)
