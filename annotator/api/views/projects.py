"""Projects: list, create, read, change settings, start labeling."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from annotator.api.cycle_serializers import CycleSerializer
from annotator.api.job_serializers import JobSerializer
from annotator.api.openapi import errors, list_errors
from annotator.api.project_serializers import ProjectSerializer, ProjectUpdateSerializer
from annotator.api.views.base import CREATED, ProjectScopedView, ServiceErrorsMixin
from annotator.selectors.access import projects_for
from annotator.services import labeling_start, projects, retraining


@extend_schema_view(
    get=extend_schema(
        responses={200: ProjectSerializer(many=True), **list_errors(not_found="A page past the end.")}
    ),
    post=extend_schema(responses={201: ProjectSerializer, **errors(400, 403)}),
)
class ProjectListView(ServiceErrorsMixin, generics.ListCreateAPIView):
    """Projects you are a member of; creating one makes you its owner."""

    serializer_class = ProjectSerializer

    def get_queryset(self):
        return projects_for(self.request.user).prefetch_related("memberships")

    def perform_create(self, serializer: ProjectSerializer) -> None:
        data = dict(serializer.validated_data)
        specs = [projects.ClassSpec(**spec) for spec in data.pop("classes")]
        serializer.instance = projects.create_project(self.request.user, classes=specs, **data)


class ProjectDetailView(ProjectScopedView):
    """A project's settings: members read them, owners change them."""

    @extend_schema(responses={200: ProjectSerializer, **errors(403, 404)})
    def get(self, request: Request, project_id: int) -> Response:
        return Response(ProjectSerializer(self.project(), context={"request": request}).data)

    @extend_schema(
        request=ProjectUpdateSerializer,
        responses={
            200: ProjectSerializer,
            **errors(
                400,
                403,
                404,
                conflict="A budget below the votes spent, or votes per face changed mid-labeling.",
            ),
        },
    )
    def patch(self, request: Request, project_id: int) -> Response:
        project = self.project(owner=True)
        serializer = ProjectUpdateSerializer(project, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        project = projects.update_project(project, **serializer.validated_data)
        return Response(ProjectSerializer(project, context={"request": request}).data)


class StartLabelingView(ProjectScopedView):
    """Open cycle 0 with the initial set (random, seeded). Repeating it changes nothing.

    With a representative initial set (``initial_selection`` k-means or TypiClust) cycle 0
    opens with its test sample and ``initial_set_pending``; the picks join once pre-training has
    run ``FACELOOP_FIRST_BATCH_STEPS`` steps (or at its end).
    """

    @extend_schema(
        request=None,
        responses={
            201: CycleSerializer,
            **errors(403, 404, conflict="The pool is empty: import faces first."),
        },
    )
    def post(self, request: Request, project_id: int) -> Response:
        cycle = labeling_start.start_labeling(self.project(owner=True))
        return Response(CycleSerializer(cycle).data, status=CREATED)


class RetrainView(ProjectScopedView):
    """Train now on everything labeled so far (owners only); 409 with nothing new to learn or while one runs.

    Mid-batch, the new model only refreshes the dashboard; the batch's own training still
    follows its last vote.
    """

    @extend_schema(
        request=None,
        responses={
            201: JobSerializer,
            **errors(
                403,
                404,
                conflict="Nothing is labeled, nothing changed since the current model was trained, "
                "labeling has not started, or a training job is queued or running.",
            ),
        },
    )
    def post(self, request: Request, project_id: int) -> Response:
        job = retraining.request_retrain(self.project(owner=True))
        return Response(JobSerializer(job).data, status=CREATED)
