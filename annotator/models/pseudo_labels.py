"""Pseudo-labels offered to annotators as one-key confirmations (seed 002's confident faces).

After a semi-supervised training, pool faces the model labels with a confidence above its
class's Ada-CM margin are offered to annotators: one key confirms, another rejects. An
answer is not a vote: it spends no budget and is counted apart, so the dashboard can tell
how often the model's confident guesses hold up, and a confirmed face trains as labeled.
An open offer shown to one annotator is held for them under a lease (``Lease.offer``) for
the project's lease time, so annotators working at once are shown different faces.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotator.models.faces import Face
from annotator.models.jobs import ModelVersion
from annotator.models.projects import Project


class OfferState(models.TextChoices):
    OFFERED = "offered", "Waiting for an answer"
    CONFIRMED = "confirmed", "Confirmed by an annotator"
    REJECTED = "rejected", "Rejected by an annotator"
    WITHDRAWN = "withdrawn", "Replaced by a newer model's offer"


class PseudoLabelOffer(models.Model):
    """One face's pseudo-label from one model version, and what an annotator said of it."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="pseudo_label_offers")
    face = models.ForeignKey(Face, on_delete=models.CASCADE, related_name="pseudo_label_offers")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="offers")
    class_index = models.SmallIntegerField()
    confidence = models.FloatField(help_text="The model's probability of the class.")
    margin = models.FloatField(help_text="The class's Ada-CM margin the confidence cleared.")
    state = models.CharField(max_length=10, choices=OfferState.choices, default=OfferState.OFFERED)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="offers"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    client_id = models.UUIDField(null=True, blank=True)
    time_spent_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-confidence", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["face"], condition=Q(state="offered"), name="one_open_offer_per_face"
            ),
            models.UniqueConstraint(fields=["answered_by", "client_id"], name="offer_client_id_unique"),
        ]
        indexes = [models.Index(fields=["project", "state"], name="offer_project_state")]

    def __str__(self) -> str:
        return f"offer {self.class_index} on {self.face_id} ({self.state})"
