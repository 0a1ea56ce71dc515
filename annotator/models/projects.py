"""Projects, their classes, and who may work on them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class Strategy(models.TextChoices):
    """Query strategies of seed 000 (names match ``ml_engine.strategies``' registry; a test checks)."""

    RANDOM = "random", "Random"
    LEAST_CONFIDENCE = "least_confidence", "Least confidence"
    ENTROPY = "entropy", "Entropy"
    MARGIN = "margin", "Margin"
    BADGE = "badge", "BADGE"
    CORESET = "coreset", "Coreset"
    BALD = "bald", "BALD (MC dropout)"
    GLISTER = "glister", "GLISTER"
    DEEPFOOL = "deepfool", "Adversarial DeepFool"


class TrainingMode(models.TextChoices):
    SUPERVISED = "supervised", "Supervised fine-tuning"
    VOTE_DISTRIBUTION = "vote_distribution", "Supervised on each face's vote distribution"
    CROWD_MODEL = "crowd_model", "Supervised on Dawid-Skene posteriors (annotator reliability)"
    PARTIAL_LABEL = "partial_label", "Partial-label learning on candidate sets"
    SEMI_SUPERVISED = "semi_supervised", "Semi-supervised (Ada-CM)"


class AuxiliaryTask(models.TextChoices):
    """Self-supervised heads trained beside the expression head (HMTL, seed 003; names match
    ``ml_engine.training.auxiliary_tasks``; a test checks)."""

    NONE = "none", "None"
    PUZZLE = "puzzle", "Tile puzzle (3x3)"
    ROTATION = "rotation", "Tile rotation"
    PUZZLE_ROTATION = "puzzle_rotation", "Tile puzzle and rotation"


class SslMethod(models.TextChoices):
    """Self-supervised pre-training methods, or none (names match ``ml_engine.ssl``'s registry; a test checks)."""

    NONE = "none", "None"
    SIMCLR = "simclr", "SimCLR"
    MOCO_V2 = "moco", "MoCo v2"
    BYOL = "byol", "BYOL"
    SWAV = "swav", "SwAV"
    BARLOW_TWINS = "barlow_twins", "Barlow Twins"


class InitialSelection(models.TextChoices):
    """How the first batch is chosen (names match ``ml_engine.cold_start.COLD_START_METHODS``; a test checks)."""

    RANDOM = "random", "At random (seed 000)"
    KMEANS = "kmeans", "Representative: k-means centres"
    TYPICLUST = "typiclust", "Representative: TypiClust"


class ModelName(models.TextChoices):
    """Backbones the engine can build (names match ``ml_engine.models``' registry; a test checks)."""

    RESNET18 = "resnet18", "ResNet-18"
    SMALL_CNN = "small_cnn", "Small CNN (tests and smoke runs)"


@dataclass(frozen=True)
class Bounds:
    """The range a numeric project setting may take, enforced by the API, the model and the database.

    Each upper bound keeps one setting from exhausting a worker (an image size of 16,733
    took 17.8 GB of memory before failing) or overflowing a database integer.
    """

    low: int
    high: int

    def validators(self) -> list[MinValueValidator | MaxValueValidator]:
        return [MinValueValidator(self.low), MaxValueValidator(self.high)]

    def check(self, field: str) -> models.CheckConstraint:
        return models.CheckConstraint(
            condition=Q(**{f"{field}__gte": self.low, f"{field}__lte": self.high}), name=f"{field}_in_bounds"
        )


MAX_VOTES = 100_000_000
"""Budgets and quotas, in votes: far above any labeling effort, far below any integer limit."""

BOUNDS = {
    "budget_votes": Bounds(1, MAX_VOTES),
    "votes_per_face": Bounds(1, 50),
    "candidate_min_votes": Bounds(1, 50),
    "batch_size": Bounds(1, 10_000),
    "initial_set_size": Bounds(1, 100_000),
    "test_sample_size": Bounds(0, 100_000),
    "image_size": Bounds(16, 224),
    "seed": Bounds(0, 2**31 - 1),
    "lease_seconds": Bounds(30, 600),
    "min_face_ms": Bounds(0, 5_000),
}
"""Image sizes: 16 px is the smallest input both backbones reduce to a feature map, 224 px the
largest a ResNet-18 is trained at anywhere (FER crops are 48-100 px). FERPlus asked 10 annotators
per face; 50 leaves room. A lease under 30 s would take faces back from annotators mid-answer; the
labeling page renews its leases while it is open, so one over 10 minutes only keeps faces from the
team after a tab died without a word.
Five seconds is far longer than anyone needs to see a face before answering; 0 turns the guard off."""


class Project(models.Model):
    """A labeling effort: a pool of faces, a set of classes, a budget counted in votes.

    ``votes_spent`` is a counter changed only by conditional ``UPDATE``s in
    ``annotator.services.votes``, so it can never pass ``budget_votes``.
    """

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_projects"
    )
    budget_votes = models.PositiveIntegerField(validators=BOUNDS["budget_votes"].validators())
    votes_spent = models.PositiveIntegerField(default=0)
    votes_per_face = models.PositiveSmallIntegerField(
        default=1, validators=BOUNDS["votes_per_face"].validators()
    )
    candidate_min_votes = models.PositiveSmallIntegerField(
        default=1,
        validators=BOUNDS["candidate_min_votes"].validators(),
        help_text="A class enters a face's candidate set with at least this many votes (seed 004).",
    )
    batch_size = models.PositiveIntegerField(default=100, validators=BOUNDS["batch_size"].validators())
    initial_set_size = models.PositiveIntegerField(
        default=100, validators=BOUNDS["initial_set_size"].validators()
    )
    test_sample_size = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=BOUNDS["test_sample_size"].validators(),
        help_text=(
            "Without labeled test faces, pool faces reserved as the test set when labeling starts, labeled "
            "first and never trained on; empty: 5% of the pool, at most 500; 0: none."
        ),
    )
    strategy = models.CharField(max_length=32, choices=Strategy.choices, default=Strategy.LEAST_CONFIDENCE)
    training_mode = models.CharField(
        max_length=32, choices=TrainingMode.choices, default=TrainingMode.SUPERVISED
    )
    auxiliary_tasks = models.CharField(
        max_length=32,
        choices=AuxiliaryTask.choices,
        default=AuxiliaryTask.NONE,
        help_text="Experimental (seed 003): self-supervised heads trained beside the expression head, not with "
        "semi-supervised training. Measured from a SimCLR ResNet-18 on FER+, 3x3 puzzle heads lowered "
        "accuracy at 1,000 labels from 51.2% to 37.6% (3 seeds; bench/auxiliary_tasks.py --backbone).",
    )
    omni_supervised_delta = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(2.0)],
        help_text="Train also on auxiliary and unvoted pool faces whose nearest class centroid beats the "
        "second by this cosine margin (omni-supervised); empty: off.",
    )
    ssl_method = models.CharField(max_length=32, choices=SslMethod.choices, default=SslMethod.SIMCLR)
    initial_selection = models.CharField(
        max_length=16,
        choices=InitialSelection.choices,
        default=InitialSelection.TYPICLUST,
        help_text="The first batch: at random, or representative faces picked on the pre-trained "
        "embeddings (labeling then starts when pre-training ends). TypiClust by default: the "
        "measured best combination (services/project_settings.py).",
    )
    backbone_weights = models.CharField(
        max_length=255,
        blank=True,
        help_text="Storage name of a ResNet-18 of the owner's own that pre-training and the first "
        "training start from (annotator.services.backbone_weights); empty: none.",
    )
    backbone_weights_report = models.JSONField(
        default=dict, blank=True, help_text="The file's name and what was adapted or left out to load it."
    )
    model_name = models.CharField(max_length=64, choices=ModelName.choices, default=ModelName.RESNET18)
    image_size = models.PositiveSmallIntegerField(default=48, validators=BOUNDS["image_size"].validators())
    seed = models.PositiveIntegerField(default=0, validators=BOUNDS["seed"].validators())
    lease_seconds = models.PositiveIntegerField(
        default=90,
        validators=BOUNDS["lease_seconds"].validators(),
        help_text="A face shown to an annotator returns to the queue after this long without a sign of "
        "life from their tab (the labeling page renews its faces while it is open).",
    )
    min_face_ms = models.PositiveIntegerField(
        default=150,
        validators=BOUNDS["min_face_ms"].validators(),
        help_text="A key answers a face only after it has been on screen this long (guards double presses).",
    )
    show_model_suggestion = models.BooleanField(
        default=False, help_text="Off by default: showing the model's guess biases annotators."
    )
    offer_confirmations = models.BooleanField(
        default=False,
        help_text=(
            "Semi-supervised mode only: offer pool faces whose pseudo-label clears its class's Ada-CM "
            "margin as one-key confirmations, counted apart from votes and outside the budget."
        ),
    )
    continuous_labeling = models.BooleanField(
        default=True,
        help_text=(
            "While the next model trains, labelers go on with the faces the current model ranked next; "
            "the new model's batch takes over when it is published. Off: seed 000's strict batches."
        ),
    )
    warm_start = models.BooleanField(
        default=True,
        help_text="Fine-tune each model from the previous model version instead of training from scratch; "
        "on by default: the measured best combination (services/project_settings.py).",
    )
    class_balanced = models.BooleanField(
        default=False,
        help_text=(
            "Spread each batch over the model's predicted classes (square root of their pool share, at "
            "least one each), so rare expressions are asked about too; the strategy ranks within each class."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(votes_spent__lte=F("budget_votes")), name="budget_not_overspent"
            ),
            models.CheckConstraint(
                condition=Q(candidate_min_votes__lte=F("votes_per_face")),
                name="candidate_min_votes_within_votes_per_face",
            ),
            models.CheckConstraint(
                condition=Q(model_name__in=ModelName.values), name="model_name_registered"
            ),
            *(bounds.check(field) for field, bounds in BOUNDS.items()),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def votes_left(self) -> int:
        return max(self.budget_votes - self.votes_spent, 0)

    def lease_end(self, start: datetime | None = None) -> datetime:
        """When a face (or an offer) shown at ``start`` (default: now) stops being held."""
        return (start or timezone.now()) + timedelta(seconds=self.lease_seconds)


class ProjectClass(models.Model):
    """One expression class of a project: its index in model outputs, shortcut key and colour."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="classes")
    index = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=64)
    key = models.CharField(max_length=1, help_text="Keyboard shortcut on the labeling page.")
    color = models.CharField(
        max_length=7, default="#4e79a7", validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use #rrggbb.")]
    )

    class Meta:
        ordering = ["project", "index"]
        constraints = [
            models.UniqueConstraint(fields=["project", "index"], name="class_index_unique"),
            models.UniqueConstraint(fields=["project", "name"], name="class_name_unique"),
            models.UniqueConstraint(fields=["project", "key"], name="class_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.index}: {self.name}"


class Role(models.TextChoices):
    """Owners run the project; reviewers set faces' final labels (and label); annotators vote."""

    OWNER = "owner", "Owner"
    REVIEWER = "reviewer", "Reviewer"
    ANNOTATOR = "annotator", "Annotator"


class Membership(models.Model):
    """A user's role in a project and, optionally, a cap on the votes they may cast.

    ``votes_cast`` is changed only by conditional ``UPDATE``s, like the project budget.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANNOTATOR)
    quota_votes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(MAX_VOTES)],
        help_text="Empty: no per-annotator cap.",
    )
    votes_cast = models.PositiveIntegerField(default=0)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "user"]
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="one_membership_per_user"),
            models.CheckConstraint(condition=Q(quota_votes__lte=MAX_VOTES), name="quota_votes_in_bounds"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} ({self.role})"
