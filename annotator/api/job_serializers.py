"""Serializers of background jobs, and of the upload an import job reads."""

from __future__ import annotations

from rest_framework import serializers

from annotator.models import Job, Split
from annotator.selectors.progress import job_waiting_for


class ImportInputSerializer(serializers.Serializer):
    files = serializers.ListField(child=serializers.FileField(), min_length=1, max_length=5000)
    split = serializers.ChoiceField(choices=["auto", Split.POOL, Split.TEST, Split.AUXILIARY], default="auto")
    job = serializers.IntegerField(
        required=False, min_value=1, help_text="A waiting job from POST .../imports/job/ to report to."
    )


class JobSerializer(serializers.ModelSerializer):
    result = serializers.DictField(read_only=True, help_text="What the job left: its summary, by kind.")
    waiting_for = serializers.SerializerMethodField(
        help_text="A queued job: what it waits for (the jobs running on its worker queue); else null."
    )

    class Meta:
        model = Job
        fields = [
            "id",
            "project",
            "kind",
            "state",
            "stage",
            "progress",
            "epoch",
            "loss",
            "message",
            "result",
            "cancel_requested",
            "attempts",
            "waiting_for",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_waiting_for(self, job: Job) -> str | None:
        return job_waiting_for(job)
