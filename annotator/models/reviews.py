"""Reviews of faces' labels and faces excluded from the pool (reviewers hold faces under a ``Lease``).

A review is a reviewer's final word on a face: its label overrides the votes' aggregate in
training and in every export, but it is not a vote, so it spends no budget and no quota.
An exclusion takes a face out of the loop (not a face, corrupt, a duplicate): it is never
queued, trained on or exported. Both are kept as records and undone by stamping them, so
who decided what, and when, survives every undo.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotator.models.faces import Face
from annotator.models.projects import Project


class Review(models.Model):
    """A reviewer set (or confirmed) a face's final label; ``undone_at`` marks an undo.

    The face's ``reviewed_label`` is the ``label_after`` of its newest live review.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="reviews")
    face = models.ForeignKey(Face, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews")
    label_before = models.SmallIntegerField(
        null=True, blank=True, help_text="The face's label when reviewed (aggregate or earlier review)."
    )
    label_after = models.SmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["project", "reviewer", "created_at"], name="review_project_reviewer")]

    def __str__(self) -> str:
        return f"{self.reviewer} on {self.face_id}: {self.label_before} -> {self.label_after}"


class ExclusionReason(models.TextChoices):
    NOT_A_FACE = "not_a_face", "Not a face"
    CORRUPT = "corrupt", "Corrupt image"
    DUPLICATE = "duplicate", "Duplicate of another face"
    OTHER = "other", "Other"


class Exclusion(models.Model):
    """An owner took a face out of the loop; ``undone_at`` marks it brought back."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="exclusions")
    face = models.ForeignKey(Face, on_delete=models.CASCADE, related_name="exclusions")
    excluded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="exclusions"
    )
    reason = models.CharField(max_length=16, choices=ExclusionReason.choices)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["face"], condition=Q(undone_at__isnull=True), name="one_live_exclusion_per_face"
            )
        ]

    def __str__(self) -> str:
        return f"{self.face_id} excluded ({self.reason})"
