"""Cycles of the active-learning loop, each cycle's queue of faces, and leases on them.

Two words, two things:

- a **cycle** is one turn of the loop: a batch of faces is labeled, then a model trains on
  everything labeled so far and ranks the pool for the next cycle (:class:`Cycle`);
- a **batch** is the faces of one cycle, in the order its strategy ranked them (the cycle's
  :class:`QueueEntry` rows; ``Cycle.batch_size`` faces).

Functions are named for what they take: one that takes a ``Cycle`` says "cycle" (e.g.
``services.training.on_cycle_labeled``), one about the faces says "batch" (e.g.
``services.cycle_inputs.next_batch_size``, the number of faces in the next cycle's batch).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotator.models.faces import Face, tab_field
from annotator.models.projects import Project


class CycleState(models.TextChoices):
    LABELING = "labeling", "Labeling"
    TRAINING = "training", "Training"
    SCORING = "scoring", "Scoring the pool"
    SELECTING = "selecting", "Selecting the next batch"
    FINAL_TRAINING = "final_training", "Final training"
    DONE = "done", "Done"


class Cycle(models.Model):
    """One round of the loop: a batch of faces to label, then training on everything labeled.

    Cycle 0 holds the initial set (random, seeded). ``labeling_completed_at`` is set once,
    by a conditional update, when every face of the batch has its votes.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="cycles")
    number = models.PositiveIntegerField()
    state = models.CharField(max_length=16, choices=CycleState.choices, default=CycleState.LABELING)
    strategy = models.CharField(max_length=32, help_text="The strategy that chose this batch.")
    selected_by = models.ForeignKey(
        "annotator.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="selected_cycles",
    )
    batch_size = models.PositiveIntegerField(default=0)
    initial_set_pending = models.BooleanField(
        default=False,
        help_text="Cycle 0 waits for pre-training to pick its representative initial set "
        "(the batch cannot complete before).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    labeling_completed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project", "number"]
        constraints = [models.UniqueConstraint(fields=["project", "number"], name="cycle_number_unique")]

    def __str__(self) -> str:
        return f"{self.project} cycle {self.number} ({self.state})"


class ChosenBy(models.TextChoices):
    """How a queue entry's face was chosen: the loop never leaves labelers idle, so when the
    newest model's ranking runs out (or no model exists yet) faces come from the next source
    in this order (:mod:`annotator.services.fallback_order`)."""

    INITIAL = "initial", "Initial set"
    TEST_SAMPLE = "test_sample", "Test sample"
    STRATEGY = "strategy", "The project's strategy (the newest model's ranking)"
    NEWEST_MODEL = "newest_model", "The newest model's scores, least confident first"
    REPRESENTATIVE = "representative", "Representative on the pre-trained embeddings"
    RANDOM = "random", "At random (seeded)"


class QueueEntry(models.Model):
    """A face in a cycle's batch, in the order the strategy ranked it.

    ``slots_taken`` counts live votes plus open leases; the assignment code raises it only
    with ``UPDATE ... WHERE slots_taken < votes_per_face``, so a face is never shown to more
    annotators than it needs votes.
    """

    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="entries")
    face = models.ForeignKey(Face, on_delete=models.CASCADE, related_name="queue_entries")
    position = models.PositiveIntegerField()
    score = models.FloatField(null=True, blank=True, help_text="The strategy's score, when it has one.")
    predicted_class = models.SmallIntegerField(
        null=True, blank=True, help_text="The selecting model's guess, shown only if the project allows it."
    )
    chosen_by = models.CharField(
        max_length=16,
        choices=ChosenBy.choices,
        default=ChosenBy.STRATEGY,
        help_text="How the face came into the batch (the strategy, or a fallback when none had ranked it).",
    )
    slots_taken = models.PositiveSmallIntegerField(default=0)
    votes_received = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["cycle", "position"]
        constraints = [models.UniqueConstraint(fields=["cycle", "face"], name="face_once_per_cycle")]
        indexes = [models.Index(fields=["cycle", "slots_taken", "position"], name="queue_open_slots")]

    def __str__(self) -> str:
        return f"cycle {self.cycle_id} #{self.position}: face {self.face_id}"


class Lease(models.Model):
    """A face held for one annotator until ``expires_at``: the one way a face is held for someone.

    A lease names what it holds, one of: a queue ``entry`` (the face is to be voted on; the
    lease takes one of the entry's ``slots_taken``, so several annotators may hold it, once
    each), a pseudo-label ``offer`` (to be confirmed) or a ``review_face`` (a face to be
    reviewed), each of the last two held by one annotator at a time. Expired leases are
    deleted and free what they held (:mod:`annotator.assignment` writes every lease).

    ``tab`` names the browser tab (or device) that holds the face, so one person working in
    two tabs is handed different faces in each. A face is still leased once per annotator,
    whatever the tab: it is one person's one vote.
    """

    entry = models.ForeignKey(
        QueueEntry, null=True, blank=True, on_delete=models.CASCADE, related_name="leases"
    )
    offer = models.ForeignKey(
        "annotator.PseudoLabelOffer", null=True, blank=True, on_delete=models.CASCADE, related_name="leases"
    )
    review_face = models.ForeignKey(
        Face, null=True, blank=True, on_delete=models.CASCADE, related_name="review_leases"
    )
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="leases")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="leases")
    tab = tab_field("The client's tab id; empty: the default tab.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["entry", "annotator"], name="one_lease_per_face_and_annotator"),
            models.UniqueConstraint(fields=["offer"], name="one_lease_per_offer"),
            models.UniqueConstraint(fields=["review_face"], name="one_review_lease_per_face"),
            models.CheckConstraint(
                condition=Q(entry__isnull=False, offer__isnull=True, review_face__isnull=True)
                | Q(entry__isnull=True, offer__isnull=False, review_face__isnull=True)
                | Q(entry__isnull=True, offer__isnull=True, review_face__isnull=False),
                name="lease_holds_one_thing",
            ),
        ]
        indexes = [models.Index(fields=["project", "expires_at"], name="lease_expiry")]

    def __str__(self) -> str:
        held = next(
            f"{name} {pk}"
            for name, pk in (
                ("entry", self.entry_id),
                ("offer", self.offer_id),
                ("face", self.review_face_id),
            )
            if pk is not None
        )
        return f"{self.annotator} holds {held} until {self.expires_at}"
