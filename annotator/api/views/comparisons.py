"""Strategy comparisons on a project's own labels: ask for one, read the newest, adopt a strategy."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from annotator.api.job_serializers import JobSerializer
from annotator.api.openapi import errors
from annotator.api.project_serializers import ProjectSerializer
from annotator.api.views.base import CREATED, ProjectScopedView, validated
from annotator.models import Strategy
from annotator.selectors import comparison_plan
from annotator.selectors.dashboard import latest_comparison
from annotator.services import comparisons
from annotator.services.errors import Conflict


class ComparisonRequestSerializer(serializers.Serializer):
    strategies = serializers.ListField(
        child=serializers.ChoiceField(choices=Strategy.choices),
        allow_empty=False,
        max_length=len(Strategy.values),
        help_text="Strategies to compare; random sampling, the baseline, always runs too.",
    )
    seeds = serializers.IntegerField(
        min_value=1,
        max_value=comparisons.MAX_SEEDS,
        default=comparisons.DEFAULT_SEEDS,
        help_text="Runs per strategy (seeds 0 .. n-1); the spread between them decides the sentence.",
    )
    class_balanced = serializers.BooleanField(
        default=False, help_text="Also run each strategy's class-balanced variant."
    )
    model = serializers.ChoiceField(
        choices=comparison_plan.CHOICES,
        default=comparison_plan.AUTO,
        help_text=(
            "project: replay the project's own model, backbone, first batch and warm starts; proxy: a "
            "small CNN at 32 px from scratch (minutes on a CPU); auto: the project's model when its "
            "estimate fits in FACELOOP_COMPARISON_MINUTES, else the stand-in."
        ),
    )


class AdoptStrategySerializer(serializers.Serializer):
    strategy = serializers.CharField(help_text='A compared strategy, e.g. "badge" or "badge+balanced".')


class ComparisonListView(ProjectScopedView):
    """Owners start a comparison (a job on the train queue); members read the newest result."""

    @extend_schema(
        request=ComparisonRequestSerializer,
        responses={
            201: JobSerializer,
            **errors(
                400,
                403,
                404,
                conflict="Fewer than 50 labeled faces, no labeled test face, or a comparison already runs.",
            ),
        },
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = self.project(owner=True)
        body = validated(ComparisonRequestSerializer, request.data)
        job = comparisons.request_comparison(project, **body)
        return Response(JobSerializer(job).data, status=CREATED)

    @extend_schema(
        responses={
            200: inline_serializer(
                "Comparison",
                {
                    "comparison": serializers.DictField(
                        allow_null=True, help_text="The newest finished comparison's result, or null."
                    )
                },
            ),
            **errors(404),
        }
    )
    def get(self, request: Request, project_id: int) -> Response:
        return Response({"comparison": latest_comparison(self.project())})


class ComparisonPlanView(ProjectScopedView):
    """Owners see, before asking, which model a comparison would replay and how long the project's
    takes; or, while the labels cannot be compared yet, why (``ready`` false: not an error, the
    dashboard shows it where the plan goes)."""

    @extend_schema(
        request=ComparisonRequestSerializer,
        responses={
            200: inline_serializer(
                "ComparisonPlan",
                {
                    "ready": serializers.BooleanField(),
                    "replay": serializers.ChoiceField(choices=comparison_plan.CHOICES[1:], required=False),
                    "project_seconds": serializers.IntegerField(
                        required=False,
                        help_text="Estimated seconds to replay the project's model at this machine's training speed.",
                    ),
                    "limit_seconds": serializers.IntegerField(required=False),
                    "sentence": serializers.CharField(),
                },
            ),
            **errors(400, 403, 404),
        },
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = self.project(owner=True)
        body = validated(ComparisonRequestSerializer, request.data)
        try:
            plan = comparisons.plan_comparison(project, **body)
        except Conflict as not_ready:  # too few labels to compare yet
            return Response({"ready": False, "sentence": not_ready.message})
        return Response({"ready": True, **plan.as_dict()})


class AdoptStrategyView(ProjectScopedView):
    """Owners switch the project to a compared strategy (and its class balance)."""

    @extend_schema(
        request=AdoptStrategySerializer, responses={200: ProjectSerializer, **errors(400, 403, 404)}
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = self.project(owner=True)
        body = validated(AdoptStrategySerializer, request.data)
        updated = comparisons.adopt_strategy(project, body["strategy"])
        return Response(ProjectSerializer(updated, context={"request": request}).data)
