"""Cycles of the active-learning loop, each cycle's queue of faces, and leases on them."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from annotator.models.items import TAB_MAX_LENGTH, Item
from annotator.models.projects import Project


class CycleState(models.TextChoices):
    PRETRAINING = "pretraining", "Self-supervised pre-training"
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
    created_at = models.DateTimeField(auto_now_add=True)
    labeling_completed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project", "number"]
        constraints = [models.UniqueConstraint(fields=["project", "number"], name="cycle_number_unique")]

    def __str__(self) -> str:
        return f"{self.project} cycle {self.number} ({self.state})"


class QueueEntry(models.Model):
    """A face in a cycle's batch, in the order the strategy ranked it.

    ``slots_taken`` counts live votes plus open leases; the assignment code raises it only
    with ``UPDATE ... WHERE slots_taken < votes_per_face``, so a face is never shown to more
    annotators than it needs votes.
    """

    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="entries")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="queue_entries")
    position = models.PositiveIntegerField()
    score = models.FloatField(null=True, blank=True, help_text="The strategy's score, when it has one.")
    predicted_class = models.SmallIntegerField(
        null=True, blank=True, help_text="The selecting model's guess, shown only if the project allows it."
    )
    slots_taken = models.PositiveSmallIntegerField(default=0)
    votes_received = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["cycle", "position"]
        constraints = [models.UniqueConstraint(fields=["cycle", "item"], name="face_once_per_cycle")]
        indexes = [models.Index(fields=["cycle", "slots_taken", "position"], name="queue_open_slots")]

    def __str__(self) -> str:
        return f"cycle {self.cycle_id} #{self.position}: item {self.item_id}"


class Lease(models.Model):
    """A face shown to one annotator until ``expires_at``; expired leases free their slot.

    ``tab`` names the browser tab (or device) that holds the face, so one person working in
    two tabs is handed different faces in each. A face is still leased once per annotator,
    whatever the tab: it is one person's one vote.
    """

    entry = models.ForeignKey(QueueEntry, on_delete=models.CASCADE, related_name="leases")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="leases")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="leases")
    tab = models.CharField(
        max_length=TAB_MAX_LENGTH,
        blank=True,
        default="",
        help_text="The client's tab id; empty: the default tab.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["entry", "annotator"], name="one_lease_per_face_and_annotator")
        ]
        indexes = [models.Index(fields=["project", "expires_at"], name="lease_expiry")]

    def __str__(self) -> str:
        return f"{self.annotator} holds {self.entry_id} until {self.expires_at}"
