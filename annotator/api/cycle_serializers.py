"""Serializers of the loop's record: its cycles and the model versions trained in them."""

from __future__ import annotations

from rest_framework import serializers

from annotator.models import Cycle, ModelVersion


class CycleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Cycle
        fields = [
            "id",
            "number",
            "state",
            "strategy",
            "batch_size",
            "initial_set_pending",
            "created_at",
            "labeling_completed_at",
            "finished_at",
        ]


class ModelVersionSerializer(serializers.ModelSerializer):
    cycle = serializers.IntegerField(source="cycle.number", read_only=True, allow_null=True)
    metrics = serializers.DictField(read_only=True, help_text="The model's test figures, by name.")

    class Meta:
        model = ModelVersion
        fields = ["id", "version", "cycle", "labels_used", "started_from", "metrics", "created_at"]
