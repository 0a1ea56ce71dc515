"""Invitations to a project for people who have no account yet."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models

from annotator.models.projects import MAX_VOTES, Project, Role


class Invite(models.Model):
    """A single-use link that lets its holder create an account and join with ``role``.

    Only the SHA-256 of the token is stored: a leaked database does not leak working links.
    ``used_at`` is set by one conditional ``UPDATE``, so a link opened twice at once still
    admits one person.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invites")
    token_sha256 = models.CharField(max_length=64, unique=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANNOTATOR)
    quota_votes = models.PositiveIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(MAX_VOTES)]
    )
    email = models.EmailField(blank=True, help_text="Who the link was meant for (a note; not checked).")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"invite to {self.project} as {self.role}"
