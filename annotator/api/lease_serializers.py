"""Serializers of the lease endpoints: a tab's heartbeat and release, the owners' list of holders."""

from __future__ import annotations

from rest_framework import serializers

from annotator.api.fields import tab_field


class TabInputSerializer(serializers.Serializer):
    """A tab's heartbeat or release. The release also comes as a form (``navigator.sendBeacon``
    cannot set headers): its CSRF token then travels in the ``csrfmiddlewaretoken`` field."""

    tab = tab_field(default="")


class TabLeasesSerializer(serializers.Serializer):
    faces = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="The faces this tab still holds, oldest lease first. A face the page shows that is "
        "missing here was taken back: stop showing it.",
    )
    lease_seconds = serializers.IntegerField(help_text="How long the renewed leases last.")
    heartbeat_seconds = serializers.IntegerField(help_text="Renew again within this many seconds.")
    hidden_release_seconds = serializers.IntegerField(
        help_text="Release the tab's faces once it has been hidden this long."
    )
    idle_release_seconds = serializers.IntegerField(
        help_text="Release the tab's faces once it has been visible but untouched (no key, click or "
        "pointer movement) this long."
    )


class ReleasedSerializer(serializers.Serializer):
    released = serializers.IntegerField(help_text="Leases given back (faces, offers, faces to review).")


class LeaseHolderSerializer(serializers.Serializer):
    annotator = serializers.IntegerField(help_text="The holder's user id.")
    username = serializers.CharField()
    tab = serializers.CharField(help_text="The holder's tab id; empty: the default tab (an API client).")
    faces = serializers.ListField(child=serializers.IntegerField(), help_text="Faces held to vote on.")
    offers = serializers.IntegerField(help_text="Pseudo-label offers held to confirm.")
    reviews = serializers.IntegerField(help_text="Faces held to review.")
    held_since = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(help_text="When the last of them lapses unless renewed.")


class RevokeInputSerializer(serializers.Serializer):
    annotator = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="The holder's user id.")
    tab = tab_field("Only this tab's leases; absent: all of the holder's.")
