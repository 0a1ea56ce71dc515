"""Serializers of the team: members and their changes, invites, per-annotator figures."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from annotator.models import MAX_VOTES, Invite, Membership, Role


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(
        source="user.username",
        help_text="The member's exact username; accounts are never looked up by e-mail address.",
    )
    role = serializers.ChoiceField(choices=Role.choices, default=Role.ANNOTATOR)

    class Meta:
        model = Membership
        fields = ["id", "username", "role", "quota_votes", "votes_cast", "joined_at"]
        read_only_fields = ["votes_cast", "joined_at"]


class MembershipUpdateSerializer(serializers.Serializer):
    """A member's new quota, role, or both."""

    quota_votes = serializers.IntegerField(min_value=0, max_value=MAX_VOTES, allow_null=True, required=False)
    role = serializers.ChoiceField(choices=Role.choices, required=False)


class InviteSerializer(serializers.ModelSerializer):
    # A plain string: most invites name no address, and "" is no e-mail in the schema's format.
    email = serializers.CharField(read_only=True, help_text="Who the link was meant for, or empty.")
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    used_by = serializers.CharField(source="used_by.username", read_only=True, allow_null=True, default=None)
    state = serializers.SerializerMethodField()

    class Meta:
        model = Invite
        fields = [
            "id",
            "role",
            "quota_votes",
            "email",
            "created_by",
            "created_at",
            "expires_at",
            "used_at",
            "used_by",
            "revoked_at",
            "state",
        ]
        read_only_fields = fields

    def get_state(self, invite: Invite) -> str:
        if invite.used_at:
            return "used"
        if invite.revoked_at:
            return "revoked"
        return "expired" if invite.expires_at <= timezone.now() else "open"


class CreatedInviteSerializer(InviteSerializer):
    token = serializers.CharField(read_only=True, help_text="Shown once; only its hash is stored.")
    url = serializers.CharField(read_only=True, help_text="The link to send.")

    class Meta(InviteSerializer.Meta):
        fields = [*InviteSerializer.Meta.fields, "token", "url"]
        read_only_fields = fields


class InviteInputSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices, default=Role.ANNOTATOR)
    quota_votes = serializers.IntegerField(min_value=0, max_value=MAX_VOTES, required=False, allow_null=True)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    days = serializers.IntegerField(min_value=1, max_value=30, default=7)


class InvitationSerializer(serializers.Serializer):
    """What the invitee sees before joining."""

    project = serializers.CharField(source="project.name")
    role = serializers.CharField()
    invited_by = serializers.CharField(source="created_by.username")
    expires_at = serializers.DateTimeField()
    email = serializers.CharField()


class AcceptInviteSerializer(serializers.Serializer):
    """A new account's username and password; a signed-in user sends neither and joins as themselves.

    There is no e-mail field: an address typed here would be unverified (see ``services.invites``).
    """

    username = serializers.CharField(max_length=150, required=False)
    password = serializers.CharField(max_length=128, required=False, style={"input_type": "password"})


class JoinedSerializer(serializers.Serializer):
    project = serializers.IntegerField(source="project_id")
    username = serializers.CharField(source="user.username")
    role = serializers.CharField()
    next = serializers.CharField(help_text="The page to open next.")


class ActivityDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    votes = serializers.IntegerField()


class TeamMemberFiguresSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    username = serializers.CharField()
    membership_id = serializers.IntegerField(allow_null=True, help_text="Null for a removed member.")
    role = serializers.CharField(allow_null=True)
    quota_votes = serializers.IntegerField(allow_null=True)
    votes = serializers.IntegerField()
    skips = serializers.IntegerField()
    unsure_share = serializers.FloatField(allow_null=True)
    median_seconds = serializers.FloatField(allow_null=True)
    agreement = serializers.FloatField(
        allow_null=True, help_text="Share of others' votes on the same faces that agree."
    )
    agreement_faces = serializers.IntegerField()
    reliability = serializers.FloatField(
        allow_null=True, help_text="Dawid-Skene estimate of the newest training."
    )
    reviews = serializers.IntegerField()
    activity = ActivityDaySerializer(many=True)
