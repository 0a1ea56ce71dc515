"""Reviews: the queue of doubtful faces, setting a face's final label, and undo (reviewers and owners)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from annotator.api.face_serializers import (
    ReviewCandidateSerializer,
    ReviewInputSerializer,
    ReviewQuerySerializer,
    ReviewSerializer,
)
from annotator.api.openapi import errors, list_errors
from annotator.api.views.base import CREATED, ProjectScopedView, validated
from annotator.face_browser import with_state
from annotator.models import Review
from annotator.services import reviews


class ReviewQueueView(ProjectScopedView):
    """The reviewer's next faces, each held for them for the lease time so reviewers see different faces.

    Reasons, in order: votes disagree (lowest top-vote share first), a confident model
    prediction contradicts the label, voted by an annotator of low estimated reliability,
    voted unsure.
    """

    @extend_schema(
        parameters=[ReviewQuerySerializer],
        responses={200: ReviewCandidateSerializer(many=True), **errors(400, 403, 404)},
    )
    def get(self, request: Request, project_id: int) -> Response:
        membership = self.reviewer()
        query = validated(ReviewQuerySerializer, request.query_params.dict())
        found = reviews.next_for_review(membership.project, request.user, **query)
        faces = {
            face.pk: face
            for face in with_state(membership.project.faces.filter(pk__in=[c.face.pk for c in found]))
        }
        rows = [{"reason": c.reason, "face": faces[c.face.pk]} for c in found]
        return Response(ReviewCandidateSerializer(rows, many=True).data)


class ReviewListView(ProjectScopedView, generics.GenericAPIView):
    """Reviews of the project, newest first; posting one sets a face's final label (no budget spent)."""

    serializer_class = ReviewSerializer

    @extend_schema(responses={200: ReviewSerializer(many=True), **list_errors()})
    def get(self, request: Request, project_id: int) -> Response:
        project = self.reviewer().project
        queryset = (
            Review.objects.filter(project=project).select_related("reviewer").order_by("-created_at", "-id")
        )
        return self.get_paginated_response(ReviewSerializer(self.paginate_queryset(queryset), many=True).data)

    @extend_schema(
        request=ReviewInputSerializer,
        responses={
            201: ReviewSerializer,
            **errors(
                400,
                403,
                404,
                invalid="Not a pool face of this project, or an unknown class.",
                conflict="The face is excluded.",
            ),
        },
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = self.reviewer().project
        body = validated(ReviewInputSerializer, request.data)
        review = reviews.review_face(project, request.user, body["face"], body["label"])
        return Response(ReviewSerializer(review).data, status=CREATED)


class ReviewUndoView(ProjectScopedView):
    """Take back your newest review; the face gets its earlier label back and returns to your queue."""

    @extend_schema(
        request=None,
        responses={200: ReviewSerializer, **errors(403, 404, conflict="No review of yours to undo.")},
    )
    def post(self, request: Request, project_id: int) -> Response:
        review = reviews.undo_last_review(self.reviewer().project, request.user)
        return Response(ReviewSerializer(review).data)
