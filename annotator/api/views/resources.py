"""A project's members, imports, cycles, model versions, jobs and dashboard."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser
from rest_framework.request import Request
from rest_framework.response import Response

from annotator.api import throttles
from annotator.api.cycle_serializers import CycleSerializer, ModelVersionSerializer
from annotator.api.dashboard_serializers import DashboardSerializer
from annotator.api.job_serializers import ImportInputSerializer, JobSerializer
from annotator.api.openapi import errors, list_errors
from annotator.api.parsers import CleaningMultiPartParser
from annotator.api.permissions import member_or_404, owner_or_403
from annotator.api.team_serializers import MembershipSerializer, MembershipUpdateSerializer
from annotator.api.throttles import WriteThrottle
from annotator.api.views.base import CREATED, ProjectScopedView, ServiceErrorsMixin, validated
from annotator.models import Job, JobKind, Membership
from annotator.selectors.dashboard import dashboard
from annotator.selectors.progress import chosen_by_counts, jobs_to_show
from annotator.services import import_jobs, imports, jobs, memberships


class MemberListView(ProjectScopedView, generics.GenericAPIView):
    """Members of a project (owners add users by name, with a role and an optional quota)."""

    serializer_class = MembershipSerializer

    @extend_schema(responses={200: MembershipSerializer(many=True), **list_errors()})
    def get(self, request: Request, project_id: int) -> Response:
        """Owners and reviewers see every member; an annotator sees their own membership only."""
        membership = self.member()
        queryset = membership.project.memberships.select_related("user")
        if not memberships.has_role(membership, memberships.REVIEWERS):
            queryset = queryset.filter(pk=membership.pk)
        return self.get_paginated_response(
            MembershipSerializer(self.paginate_queryset(queryset), many=True).data
        )

    @extend_schema(
        responses={
            201: MembershipSerializer,
            **errors(400, 403, 404, conflict="The project's creator always stays an owner."),
        }
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = self.project(owner=True)
        data = validated(MembershipSerializer, request.data)
        membership = memberships.add_member(
            project, data["user"]["username"], data["role"], data.get("quota_votes")
        )
        return Response(MembershipSerializer(membership).data, status=CREATED)


class MemberDetailView(ProjectScopedView):
    """Change a member's quota, or remove them."""

    def _membership(self, membership_id: int) -> Membership:
        project = self.project(owner=True)
        return get_object_or_404(
            Membership.objects.select_related("user", "project"), pk=membership_id, project=project
        )

    @extend_schema(
        request=MembershipUpdateSerializer,
        responses={
            200: MembershipSerializer,
            **errors(400, 403, 404, conflict="The project's creator always stays an owner."),
        },
    )
    def patch(self, request: Request, project_id: int, membership_id: int) -> Response:
        membership = self._membership(membership_id)
        data = validated(MembershipUpdateSerializer, request.data)
        if "role" in data:
            membership = memberships.set_role(membership, data["role"])
        if "quota_votes" in data:
            membership = memberships.set_quota(membership, data["quota_votes"])
        return Response(MembershipSerializer(membership).data)

    @extend_schema(
        responses={204: None, **errors(403, 404, conflict="The project's creator always stays an owner.")}
    )
    def delete(self, request: Request, project_id: int, membership_id: int) -> Response:
        memberships.remove_member(self._membership(membership_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ImportView(ProjectScopedView):
    """Upload images, or one zip or FER2013 CSV; returns the finished import job with its summary.

    Create the job first with ``POST .../imports/job/`` and pass ``job`` to poll its progress
    while the upload is processed; without it a job is created here. A refused upload fails
    the job it names, with the reason.
    """

    parser_classes = [CleaningMultiPartParser, FormParser]
    throttle_classes = [WriteThrottle]
    throttle_scope = throttles.IMPORTS

    @extend_schema(
        request={"multipart/form-data": ImportInputSerializer},
        responses={
            201: JobSerializer,
            **errors(400, 403, 404, conflict="The job named has ended or already has its upload."),
        },
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = self.project(owner=True)
        serializer = ImportInputSerializer(data=request.data)
        if not serializer.is_valid():
            import_jobs.fail_waiting_job(project, request.data.get("job"), serializer.errors)
            raise ValidationError(serializer.errors)
        job_id = serializer.validated_data.get("job")
        job = (
            import_jobs.claim_import_job(get_object_or_404(Job, pk=job_id, project=project, kind="import"))
            if job_id
            else import_jobs.create_import_job(project, claimed=True)
        )
        imports.import_uploads(
            project, serializer.validated_data["files"], split=serializer.validated_data["split"], job=job
        )
        job.refresh_from_db()
        return Response(JobSerializer(job).data, status=CREATED)


class ImportJobView(ProjectScopedView):
    """Create an import job before uploading, so its progress can be polled during the upload."""

    throttle_classes = [WriteThrottle]
    throttle_scope = throttles.IMPORTS

    @extend_schema(
        request=None,
        responses={
            201: JobSerializer,
            **errors(403, 404, conflict="Too many import jobs already wait for their uploads."),
        },
    )
    def post(self, request: Request, project_id: int) -> Response:
        job = import_jobs.create_import_job(self.project(owner=True))
        return Response(JobSerializer(job).data, status=CREATED)


class CycleListView(ProjectScopedView, generics.GenericAPIView):
    serializer_class = CycleSerializer

    @extend_schema(responses={200: CycleSerializer(many=True), **list_errors()})
    def get(self, request: Request, project_id: int) -> Response:
        queryset = self.project().cycles.order_by("number")
        return self.get_paginated_response(CycleSerializer(self.paginate_queryset(queryset), many=True).data)


class ModelVersionListView(ProjectScopedView, generics.GenericAPIView):
    serializer_class = ModelVersionSerializer

    @extend_schema(responses={200: ModelVersionSerializer(many=True), **list_errors()})
    def get(self, request: Request, project_id: int) -> Response:
        queryset = self.project().model_versions.select_related("cycle").order_by("version")
        return self.get_paginated_response(
            ModelVersionSerializer(self.paginate_queryset(queryset), many=True).data
        )


class ProjectJobListView(ProjectScopedView, generics.GenericAPIView):
    serializer_class = JobSerializer

    @extend_schema(responses={200: JobSerializer(many=True), **list_errors()})
    def get(self, request: Request, project_id: int) -> Response:
        project = self.project()
        import_jobs.expire_stale_jobs(project)
        queryset = project.jobs.order_by("-created_at")
        return self.get_paginated_response(JobSerializer(self.paginate_queryset(queryset), many=True).data)


class DashboardView(ProjectScopedView):
    """Budget, labels per class, annotators and agreement, learning curve, confusion, jobs.

    Per-annotator figures (votes, speed, reliability, confirmations) are every annotator's for
    owners and reviewers, and only their own for an annotator.
    """

    @extend_schema(responses={200: DashboardSerializer, **errors(403, 404)})
    def get(self, request: Request, project_id: int) -> Response:
        membership = self.member()
        project = membership.project
        import_jobs.expire_stale_jobs(project)
        data = dashboard(membership)
        data["jobs"] = JobSerializer(jobs_to_show(project), many=True).data
        data["chosen_by"] = chosen_by_counts(project)
        return Response(data)


class JobDetailView(ServiceErrorsMixin, generics.GenericAPIView):
    """A job's progress (any member of its project may read it)."""

    serializer_class = JobSerializer

    def job(self, job_id: int) -> Job:
        job = get_object_or_404(Job, pk=job_id)
        member_or_404(self.request, job.project_id)
        if job.kind == JobKind.IMPORT and import_jobs.expire_stale_jobs(job.project):
            job.refresh_from_db()
        return job

    @extend_schema(responses={200: JobSerializer, **errors(403, 404)})
    def get(self, request: Request, job_id: int) -> Response:
        return Response(JobSerializer(self.job(job_id)).data)


class JobCancelView(JobDetailView):
    """Ask a job to stop (owners only); a running job stops at its next progress report."""

    http_method_names = ["post", "options"]

    @extend_schema(
        request=None,
        responses={200: JobSerializer, **errors(403, 404, conflict="The job has already ended.")},
    )
    def post(self, request: Request, job_id: int) -> Response:
        job = self.job(job_id)
        owner_or_403(request, job.project_id)
        return Response(JobSerializer(jobs.request_cancel(job)).data)
