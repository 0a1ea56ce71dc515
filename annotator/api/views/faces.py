"""A project's faces, shaped by the reader's role: keyset pages, one face's record, similar faces, exclusions."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from annotator import face_browser
from annotator.api.face_serializers import (
    ANNOTATOR_QUERY,
    AnnotatorFaceSerializer,
    ExclusionInputSerializer,
    ExclusionSerializer,
    FaceDetailSerializer,
    FacePageSerializer,
    FaceQuerySerializer,
    SimilarFacesSerializer,
    browsed_face_serializer_for,
)
from annotator.api.openapi import errors
from annotator.api.views.base import CREATED, ProjectScopedView, validated
from annotator.models import Face
from annotator.services import exclusions
from annotator.services.memberships import REVIEWERS, has_role

MAX_SIMILAR = 50


class FaceListView(ProjectScopedView):
    """A page of faces for every member; pass ``next`` back as ``after`` for the following page.

    Reviewers and owners filter and sort by labeling state, labels and the model's guess, and
    get each face's state, labels and guess (owners also its imported label and votes).
    Annotators get only each face's image and split, and may filter by ``split`` alone: a test
    face's label is the answer the model is scored against, and others' votes would sway theirs.
    """

    @extend_schema(
        operation_id="projects_faces_list",
        parameters=[FaceQuerySerializer],
        responses={
            200: FacePageSerializer,
            **errors(400, 404, forbidden="Not signed in, or an annotator's filter other than split."),
        },
    )
    def get(self, request: Request, project_id: int) -> Response:
        membership = self.member()
        params = request.query_params.dict()
        if not has_role(membership, REVIEWERS):
            refuse_reviewer_filters(params)
        query = face_browser.FaceQuery(**validated(FaceQuerySerializer, params))
        try:
            page, cursor = face_browser.browse(membership.project, query)
        except face_browser.BadCursor as error:
            raise ValidationError({"after": [str(error)]}) from error
        records = browsed_face_serializer_for(membership)(page, many=True).data
        return Response({"results": records, "next": cursor})


def refuse_reviewer_filters(params: dict[str, str]) -> None:
    """Refuse (403) an annotator's filter or sort other than ``split``: each one reads labels."""
    refused = sorted(set(params) & (set(FaceQuerySerializer().fields) - ANNOTATOR_QUERY))
    if refused:
        raise PermissionDenied(f"Annotators may filter faces by split only, not by {', '.join(refused)}.")


class FaceDetailView(ProjectScopedView):
    """One face: every vote with its annotator, candidate set, the model's probabilities, its history.

    An annotator gets ``face`` alone, with only its image and split.
    """

    @extend_schema(responses={200: FaceDetailSerializer, **errors(403, 404)})
    def get(self, request: Request, project_id: int, face_id: int) -> Response:
        membership = self.member()
        face = get_object_or_404(Face, pk=face_id, project=membership.project)
        if not has_role(membership, REVIEWERS):
            return Response({"face": AnnotatorFaceSerializer(face).data})
        return Response(FaceDetailSerializer(face_browser.face_record(membership.project, face)).data)


class SimilarFacesView(ProjectScopedView):
    """The nearest faces in the pre-trained embedding space (``k``, default 12), near-duplicates flagged."""

    @extend_schema(responses={200: SimilarFacesSerializer, **errors(400, 403, 404)})
    def get(self, request: Request, project_id: int, face_id: int) -> Response:
        project = self.reviewer().project
        face = get_object_or_404(Face, pk=face_id, project=project)
        k = request.query_params.get("k", "12")
        if not k.isdigit() or not 1 <= int(k) <= MAX_SIMILAR:
            raise ValidationError({"k": [f"a whole number from 1 to {MAX_SIMILAR}"]})
        return Response(SimilarFacesSerializer(face_browser.similar_faces(project, face, int(k))).data)


class ExclusionView(ProjectScopedView):
    """Reviewers and owners exclude a face from the loop (POST) or bring it back (DELETE); both are
    recorded with who did it. A reviewer looking at a face is the one who sees it is broken or a
    duplicate; annotators may not (one annotator must not shrink what the others label)."""

    @extend_schema(
        request=ExclusionInputSerializer,
        responses={
            201: ExclusionSerializer,
            **errors(400, 403, 404, conflict="The face is already excluded."),
        },
    )
    def post(self, request: Request, project_id: int, face_id: int) -> Response:
        project = self.reviewer().project
        get_object_or_404(Face, pk=face_id, project=project)
        body = validated(ExclusionInputSerializer, request.data)
        exclusion = exclusions.exclude_face(project, request.user, face_id, **body)
        return Response(ExclusionSerializer(exclusion).data, status=CREATED)

    @extend_schema(
        responses={200: ExclusionSerializer, **errors(403, 404, conflict="The face is not excluded.")}
    )
    def delete(self, request: Request, project_id: int, face_id: int) -> Response:
        project = self.reviewer().project
        get_object_or_404(Face, pk=face_id, project=project)
        return Response(ExclusionSerializer(exclusions.include_face(project, request.user, face_id)).data)
