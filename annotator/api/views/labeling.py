"""The labeling loop: next faces, votes, undo, progress."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from annotator import assignment
from annotator.api import throttles
from annotator.api.job_serializers import JobSerializer
from annotator.api.labeling_serializers import (
    LeasedFaceSerializer,
    NextFacesInputSerializer,
    ProgressQuerySerializer,
    ProgressSerializer,
    UndoInputSerializer,
    UndoSerializer,
    VoteInputSerializer,
    VoteSerializer,
)
from annotator.api.openapi import errors, list_errors
from annotator.api.throttles import WriteThrottle
from annotator.api.views.base import CREATED, ProjectScopedView, validated
from annotator.models import Lease, Project
from annotator.selectors.progress import active_jobs, labeling_progress, live_votes
from annotator.services import votes
from annotator.services.memberships import OWNERS, has_role


def faces_data(project: Project, leases: list[Lease]) -> list[dict]:
    return LeasedFaceSerializer(
        leases, many=True, context={"show_suggestion": project.show_model_suggestion}
    ).data


class NextFacesView(ProjectScopedView):
    """Your next faces from the current batch, each reserved for you under a lease.

    Ask for several (``count`` up to 5) to prefetch; faces this tab already holds come first.
    Each browser tab sends its own ``tab`` id and is handed faces no other tab of yours holds.
    An empty list means the batch has no face left for you (or the budget is spent).
    """

    @extend_schema(
        request=NextFacesInputSerializer,
        responses={200: LeasedFaceSerializer(many=True), **errors(400, 403, 404)},
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = self.project()
        data = validated(NextFacesInputSerializer, request.data)
        leases = assignment.next_faces(project, request.user, data["count"], tab=data["tab"])
        return Response(faces_data(project, leases))


class VoteListView(ProjectScopedView, generics.GenericAPIView):
    """Cast a vote (POST) or list votes (GET: your own; owners see everyone's). Votes are rate-limited."""

    serializer_class = VoteSerializer
    throttle_classes = [WriteThrottle]
    throttle_scope = throttles.VOTES

    @extend_schema(responses={200: VoteSerializer(many=True), **list_errors()})
    def get(self, request: Request, project_id: int) -> Response:
        membership = self.member()
        queryset = live_votes(membership.project).select_related("annotator", "cycle").order_by("-id")
        if not has_role(membership, OWNERS):
            queryset = queryset.filter(annotator=request.user)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(VoteSerializer(page, many=True).data)

    @extend_schema(
        request=VoteInputSerializer,
        responses={
            201: VoteSerializer,
            200: OpenApiResponse(VoteSerializer, description="A repeated client_id: the stored vote."),
            **errors(
                403,
                404,
                invalid="Unknown class, a test face, a malformed answer.",
                conflict="Budget spent, quota reached, or the face is not available.",
            ),
        },
    )
    def post(self, request: Request, project_id: int) -> Response:
        membership = self.member()
        project = membership.project
        data = validated(VoteInputSerializer, request.data)
        answer = votes.Answer.parse(project, data["kind"], data["classes"])
        result = votes.submit_vote(
            project,
            request.user,
            face_id=data["face"],
            answer=answer,
            client_id=data["client_id"],
            time_spent_ms=data["time_spent_ms"],
            membership=membership,
            tab=data["tab"],
        )
        code = status.HTTP_200_OK if result.replayed else CREATED
        return Response(VoteSerializer(result.vote).data, status=code)


class UndoView(ProjectScopedView):
    """Retract your latest vote of the current batch cast from this tab; the face comes back to it."""

    @extend_schema(
        request=UndoInputSerializer,
        responses={
            200: UndoSerializer,
            **errors(400, 403, 404, conflict="No vote of yours in the current batch to undo."),
        },
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = self.project()
        body = validated(UndoInputSerializer, request.data)
        vote = votes.retract_last_vote(project, request.user, tab=body["tab"])
        lease = (
            Lease.objects.filter(project=project, annotator=request.user, entry__face_id=vote.face_id)
            .select_related("entry__face")
            .first()
        )
        face = None if lease is None else faces_data(project, [lease])[0]
        return Response({"vote": VoteSerializer(vote).data, "face": face})


class ProgressView(ProjectScopedView):
    """Budget used and left, the batch's progress, your own count; with ``tab``, why that tab waits."""

    @extend_schema(
        parameters=[ProgressQuerySerializer], responses={200: ProgressSerializer, **errors(400, 403, 404)}
    )
    def get(self, request: Request, project_id: int) -> Response:
        project = self.project()
        tabs = request.query_params.getlist("tab")  # a repeated tab is no tab id: refused, not the last one
        query = validated(
            ProgressQuerySerializer, {"tab": tabs if len(tabs) > 1 else tabs[0]} if tabs else {}
        )
        data = labeling_progress(project, request.user, query.get("tab"))
        data["jobs"] = JobSerializer(active_jobs(project), many=True).data
        return Response(data)
