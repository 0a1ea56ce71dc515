"""The budget planner: how a budget splits and how long its retrains and pre-training take, before and after creation."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.api.openapi import errors
from annotator.api.views.base import ProjectScopedView, validated
from annotator.models import BOUNDS, Project
from annotator.services import budget_plan


def _bounded(field: str, **options: object) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=BOUNDS[field].low, max_value=BOUNDS[field].high, **options)


class PlanQuerySerializer(serializers.Serializer):
    """The settings a plan depends on, each within its bounds (partial: a missing one keeps the saved value)."""

    budget_votes = _bounded("budget_votes")
    votes_per_face = _bounded("votes_per_face")
    batch_size = _bounded("batch_size")
    initial_set_size = _bounded("initial_set_size")
    test_sample_size = _bounded("test_sample_size", required=False, allow_null=True)


class PlannedPartSerializer(serializers.Serializer):
    faces = serializers.IntegerField()
    votes = serializers.IntegerField()


class PlannedTestSampleSerializer(PlannedPartSerializer):
    source = serializers.CharField(help_text="Where the number of faces comes from.")


class PlannedBatchesSerializer(PlannedPartSerializer):
    full = serializers.IntegerField(help_text="Full batches.")
    size = serializers.IntegerField(help_text="Faces in a full batch.")
    votes_each = serializers.IntegerField(help_text="Votes a full batch takes.")
    last_faces = serializers.IntegerField(help_text="Faces of a smaller last batch; 0: none.")


class TrainingSpeedSerializer(serializers.Serializer):
    images_per_second = serializers.FloatField()
    measured = serializers.BooleanField(help_text="Measured on this machine, else a default.")
    trainings = serializers.IntegerField(help_text="Finished trainings the speed was measured over.")
    source = serializers.CharField()


class PlannedRetrainSerializer(serializers.Serializer):
    first_seconds = serializers.IntegerField()
    last_seconds = serializers.IntegerField()
    speed = TrainingSpeedSerializer()


class PretrainingSpeedSerializer(serializers.Serializer):
    images_per_second = serializers.FloatField(
        allow_null=True,
        help_text="Faces through the optimiser per second; null before any pre-training finished here.",
    )
    pretrainings = serializers.IntegerField(help_text="Finished pre-trainings the speed was measured over.")
    source = serializers.CharField()


class PlannedPretrainingSerializer(serializers.Serializer):
    runs = serializers.BooleanField(help_text="False without a pre-training method.")
    faces = serializers.IntegerField(help_text="Pool faces it runs over.")
    epochs = serializers.IntegerField(allow_null=True)
    steps = serializers.IntegerField(
        allow_null=True, help_text="Optimiser steps: the epochs' steps, at least FACELOOP_PRETRAIN_MIN_STEPS."
    )
    seconds = serializers.IntegerField(
        allow_null=True, help_text="Estimated length at the measured speed; null: unknown."
    )
    speed = PretrainingSpeedSerializer()
    sentence = serializers.CharField()


class BudgetPlanSerializer(serializers.Serializer):
    budget_votes = serializers.IntegerField()
    votes_per_face = serializers.IntegerField()
    test_sample = PlannedTestSampleSerializer()
    initial_set = PlannedPartSerializer()
    batches = PlannedBatchesSerializer(
        help_text="Full batches, a smaller last batch, and their faces and votes."
    )
    remainder_votes = serializers.IntegerField(help_text="Votes left over that pay for no whole face.")
    trainings = serializers.IntegerField(
        help_text="Models trained: after the initial set and after each batch."
    )
    retrain = PlannedRetrainSerializer(
        help_text="Estimated seconds of the first and the last training, and the speed (measured or a default)."
    )
    pretraining = PlannedPretrainingSerializer(
        help_text="The self-supervised pre-training labeling starts: its steps and estimated length."
    )
    problems = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Per setting, why the plan cannot run; empty when it can.",
    )


PLAN_FIELDS = budget_plan.PLAN_FIELDS
PLAN_PARAMETERS = [OpenApiParameter(field, int, required=False) for field in PLAN_FIELDS]


def _plan(project: Project, request: Request, *, partial: bool) -> Response:
    # An empty query value is an empty field: for the test sample, "5% of the pool".
    values = {field: value or None for field, value in request.query_params.items() if field in PLAN_FIELDS}
    query = validated(PlanQuerySerializer, values, partial=partial)
    for field, value in query.items():
        setattr(project, field, value)
    return Response(BudgetPlanSerializer(budget_plan.plan_budget(project)).data)


class BudgetPlanView(APIView):
    """The plan of a project not created yet, from the settings in the query (new-project page)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=PLAN_PARAMETERS, responses={200: BudgetPlanSerializer, **errors(400, 403)})
    def get(self, request: Request) -> Response:
        return _plan(Project(), request, partial=False)


class ProjectBudgetPlanView(ProjectScopedView):
    """A project's plan with its faces; query settings override the saved ones (settings page)."""

    @extend_schema(parameters=PLAN_PARAMETERS, responses={200: BudgetPlanSerializer, **errors(400, 403, 404)})
    def get(self, request: Request, project_id: int) -> Response:
        return _plan(self.project(), request, partial=True)
