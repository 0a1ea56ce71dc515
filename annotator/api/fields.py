"""Serializer fields several API resources share: a tab's id, a media file's URL, a required boolean."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from annotator.models import TAB_MAX_LENGTH

TAB_HELP = (
    "The browser tab's id (letters, digits, - and _), made up by the page for each tab: two "
    "tabs of one person get different faces. Absent: the user's one default tab."
)


def media_url(name: str) -> str:
    return reverse("media", kwargs={"path": name})


def tab_field(help_text: str = TAB_HELP, **options: object) -> serializers.RegexField:
    """A tab id, optional; pass ``default=""`` where an absent tab means the user's default tab."""
    return serializers.RegexField(
        r"^[A-Za-z0-9_-]*$",
        max_length=TAB_MAX_LENGTH,
        required=False,
        allow_blank=True,
        help_text=help_text,
        **options,
    )


class RequiredBooleanField(serializers.BooleanField):
    """A boolean the client must send, in a form too (DRF reads a form without it as false)."""

    default_empty_html = serializers.empty
