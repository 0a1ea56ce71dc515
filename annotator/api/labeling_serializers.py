"""Serializers of the labeling loop: leased faces, votes and their undo, the progress a page polls."""

from __future__ import annotations

from rest_framework import serializers

from annotator.api.fields import media_url, tab_field
from annotator.api.job_serializers import JobSerializer
from annotator.api.project_serializers import BudgetSerializer
from annotator.models import Lease, Vote, VoteKind
from annotator.services.time_on_screen import MAX_TIME_SPENT_MS


class LeasedFaceSerializer(serializers.Serializer):
    """A face handed to an annotator under a lease."""

    lease_id = serializers.IntegerField(source="pk")
    face = serializers.IntegerField(source="entry.face_id")
    image_url = serializers.SerializerMethodField()
    expires_at = serializers.DateTimeField()
    suggestion = serializers.SerializerMethodField()

    def get_image_url(self, lease: Lease) -> str:
        return media_url(lease.entry.face.image.name)

    def get_suggestion(self, lease: Lease) -> int | None:
        """The selecting model's guess, only where the project shows it (off by default)."""
        return lease.entry.predicted_class if self.context.get("show_suggestion") else None


class NextFacesInputSerializer(serializers.Serializer):
    count = serializers.IntegerField(min_value=1, max_value=5, default=3)
    tab = tab_field(default="")


class UndoInputSerializer(serializers.Serializer):
    tab = tab_field(default="")


class VoteInputSerializer(serializers.Serializer):
    client_id = serializers.UUIDField()
    face = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=VoteKind.choices)
    classes = serializers.ListField(
        child=serializers.IntegerField(), required=False, default=list, max_length=64
    )
    time_spent_ms = serializers.IntegerField(
        min_value=0, max_value=MAX_TIME_SPENT_MS, required=False, default=0
    )
    tab = tab_field(default="")


class VoteSerializer(serializers.ModelSerializer):
    annotator = serializers.CharField(source="annotator.username", read_only=True)
    cycle = serializers.IntegerField(source="cycle.number", read_only=True, allow_null=True)
    candidate_set = serializers.ListField(
        child=serializers.IntegerField(),
        read_only=True,
        help_text="The classes the answer names, by index.",
    )

    class Meta:
        model = Vote
        fields = [
            "id",
            "client_id",
            "face",
            "annotator",
            "cycle",
            "kind",
            "class_index",
            "candidate_set",
            "time_spent_ms",
            "created_at",
            "retracted_at",
        ]


class UndoSerializer(serializers.Serializer):
    vote = VoteSerializer()
    face = LeasedFaceSerializer(allow_null=True)


class ProgressQuerySerializer(serializers.Serializer):
    tab = tab_field("The asking tab's id: ``waiting`` then also says why an open batch has no face for it.")


class ProgressSerializer(serializers.Serializer):
    budget_votes = serializers.IntegerField()
    votes_spent = serializers.IntegerField()
    votes_left = serializers.IntegerField()
    budget = BudgetSerializer(help_text="The budget's numbers and the sentence every page shows.")
    cycle = serializers.DictField(
        allow_null=True,
        help_text=(
            "The batch being labeled, else the newest one and its state (training ...); selected_by: the "
            "model version that ranked it; provisional: a newer model is training and its batch will take "
            "over the faces nobody has started."
        ),
    )
    waiting = serializers.DictField(
        allow_null=True,
        help_text=(
            "Why no batch is open: reason (not_started, first_model, model_training, budget_spent, "
            "no_batch) and a message to show. With ``tab``, also why the open batch has no face for that "
            "tab: held_by_other_tab, held_by_others (with faces and free_in_seconds) or answered_all. "
            "Null when a face is free."
        ),
    )
    model_version = serializers.IntegerField(allow_null=True, help_text="The newest model version, if any.")
    jobs = JobSerializer(many=True, help_text="The project's queued and running jobs.")
    own_votes = serializers.IntegerField()
    quota_votes = serializers.IntegerField(allow_null=True)
