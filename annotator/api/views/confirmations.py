"""Pseudo-label offers: the model's confident guesses, confirmed or rejected with one key."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from annotator.api.confirmation_serializers import (
    NextOffersInputSerializer,
    OfferAnswerInputSerializer,
    OfferAnswerSerializer,
    OfferSerializer,
    OfferUndoSerializer,
)
from annotator.api.openapi import errors
from annotator.api.views.base import ProjectScopedView, validated
from annotator.models import Project, PseudoLabelOffer
from annotator.selectors.classes import class_names
from annotator.services import confirmations


def offers_data(project: Project, offers: list[PseudoLabelOffer]) -> list[dict]:
    return OfferSerializer(offers, many=True, context={"class_names": class_names(project)}).data


class NextOffersView(ProjectScopedView):
    """Open offers for you, most confident first, leaving out faces you voted on.

    Each offer returned is held for you for the project's lease time, so annotators working
    at once are shown different faces; whoever answers first still wins. An empty list means
    no offer is open (they appear after a semi-supervised training, where the project offers
    them).
    """

    @extend_schema(
        parameters=[NextOffersInputSerializer],
        responses={200: OfferSerializer(many=True), **errors(400, 403, 404)},
    )
    def get(self, request: Request, project_id: int) -> Response:
        project = self.project()
        # A plain dict: from a QueryDict, DRF reads an empty ``count=`` as absent.
        body = validated(NextOffersInputSerializer, request.query_params.dict())
        offers = confirmations.next_offers(project, request.user, body["count"])
        return Response(offers_data(project, offers))


class AnswerOfferView(ProjectScopedView):
    """Confirm (``accept: true``) or reject an offer; spends no budget and no quota."""

    @extend_schema(
        request=OfferAnswerInputSerializer,
        responses={
            200: OfferAnswerSerializer,
            **errors(
                403,
                404,
                invalid="No such offer here, or a malformed answer.",
                conflict="Answered by someone else first, or withdrawn by a newer model.",
            ),
        },
    )
    def post(self, request: Request, project_id: int, offer_id: int) -> Response:
        project = self.project()
        body = validated(OfferAnswerInputSerializer, request.data)
        result = confirmations.answer_offer(project, request.user, offer_id, **body)
        return Response(OfferAnswerSerializer(result.offer).data)


class UndoAnswerView(ProjectScopedView):
    """Reopen your latest answered offer; it comes back to you to answer again."""

    @extend_schema(
        request=None,
        responses={
            200: OfferUndoSerializer,
            **errors(403, 404, conflict="No answered offer of yours to undo, or a newer model replaced it."),
        },
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = self.project()
        result = confirmations.undo_answer(project, request.user)
        return Response({"offer": offers_data(project, [result.offer])[0], "undone": result.undone_state})
