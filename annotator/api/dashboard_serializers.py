"""Serializers of the dashboard: budget, labels, annotators, learning curve, model figures, jobs."""

from __future__ import annotations

from rest_framework import serializers

from annotator.api.job_serializers import JobSerializer
from annotator.api.project_serializers import BudgetSerializer


class DashboardSerializer(serializers.Serializer):
    budget = BudgetSerializer()
    pool_size = serializers.IntegerField()
    test_size = serializers.IntegerField()
    learning_curve_unavailable_reason = serializers.CharField(
        allow_null=True,
        help_text="Why there is no learning curve yet (no test labels, no model); null once there is.",
    )
    labels_per_class = serializers.ListField(child=serializers.DictField())
    unsure_faces = serializers.IntegerField()
    annotators = serializers.ListField(child=serializers.DictField())
    agreement = serializers.DictField()
    learning_curve = serializers.ListField(child=serializers.DictField())
    confusion = serializers.DictField(allow_null=True)
    reliability = serializers.DictField(
        allow_null=True, help_text="Dawid-Skene reliability per annotator, fitted with the newest model."
    )
    margins = serializers.DictField(
        allow_null=True,
        help_text="Ada-CM per-class margins after each epoch of the newest semi-supervised model.",
    )
    confirmations = serializers.DictField(
        help_text="Pseudo-label offers by state, and answers per annotator."
    )
    reviews = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Reviews, counted apart from votes (they spend no budget), and excluded faces.",
    )
    cycle = serializers.DictField(allow_null=True)
    next_model = serializers.DictField(
        help_text="When the next model comes: votes to go, a training's estimated seconds, speed and a sentence."
    )
    jobs = JobSerializer(many=True)
    chosen_by = serializers.DictField(
        help_text="Queued faces by how they were chosen (strategy, newest_model, representative, random, "
        "initial, test_sample): labels, overall and per cycle."
    )
