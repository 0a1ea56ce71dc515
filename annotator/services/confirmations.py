"""Pseudo-labels offered as one-key confirmations: publishing a model's offers, answering them.

A semi-supervised model version offers the pool faces whose pseudo-label clears its class's
Ada-CM margin (seed 002, Algorithm 1 line 12). Each new model version withdraws the open
offers of the previous one, since its own confidence replaces theirs. Answers are counted
apart from votes: they spend no budget and no quota.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotator import assignment
from annotator.ml_bridge.pseudo_labels import ConfirmablePseudoLabel
from annotator.models import Face, ModelVersion, OfferState, Project, PseudoLabelOffer, Vote
from annotator.services.client_ids import earlier_answer
from annotator.services.errors import Conflict, FaceNotAvailable, InvalidInput, NothingToUndo
from annotator.services.memberships import require_membership
from annotator.services.time_on_screen import time_on_screen


def publish_offers(project: Project, version: ModelVersion, offers: Sequence[ConfirmablePseudoLabel]) -> int:
    """Withdraw the project's open offers and open ``offers`` for faces still without a label.

    Call inside the transaction that records ``version``. Faces that got a label or an
    answered offer since the model scored them are left out. Returns the offers opened.
    """
    PseudoLabelOffer.objects.filter(project=project, state=OfferState.OFFERED).update(
        state=OfferState.WITHDRAWN
    )
    if not project.offer_confirmations or not offers:
        return 0
    still_open = set(
        Face.objects.filter(
            project=project, pk__in=[offer.face_id for offer in offers], label_index__isnull=True
        )
        .exclude(pseudo_label_offers__state__in=[OfferState.CONFIRMED, OfferState.REJECTED])
        .values_list("pk", flat=True)
    )
    created = PseudoLabelOffer.objects.bulk_create(
        PseudoLabelOffer(
            project=project,
            face_id=offer.face_id,
            model_version=version,
            class_index=offer.class_index,
            confidence=offer.confidence,
            margin=offer.margin,
        )
        for offer in offers
        if offer.face_id in still_open
    )
    return len(created)


MAX_OFFERS_PER_REQUEST = 10
ANSWERED = (OfferState.CONFIRMED, OfferState.REJECTED)


@dataclass(frozen=True)
class AnswerResult:
    offer: PseudoLabelOffer
    replayed: bool


@dataclass(frozen=True)
class UndoResult:
    offer: PseudoLabelOffer
    undone_state: str


def next_offers(project: Project, user: User, count: int) -> list[PseudoLabelOffer]:
    """Open offers for ``user``, most confident first, each held for them for the lease time.

    Faces the user voted on are left out, and so are faces that got a voted label since the
    model scored them: their vote outweighs a confirmation in training.

    An offer shown to an annotator is held for them under a lease for
    ``project.lease_seconds`` (:func:`annotator.assignment.hold`, the leases faces to
    vote on are held with), so annotators working at once are shown different faces; asking
    again returns one's own held offers as well. A hold only steers who is shown what:
    whoever answers first still wins (see :func:`answer_offer`). An offer has at most one
    lease, so of two annotators asking at once, one gets the offer and the other the next free one.

    Raises:
        NotAllowed: the user is not a member of the project.
    """
    require_membership(project.pk, user)
    if not project.offer_confirmations:
        return []
    now = timezone.now()
    voted = Vote.objects.filter(project=project, annotator=user, retracted_at__isnull=True)
    candidates = (
        PseudoLabelOffer.objects.filter(project=project, state=OfferState.OFFERED)
        .exclude(assignment.held_by_others("offer", user, now))
        .filter(face__label_index__isnull=True)
        .exclude(face_id__in=voted.values("face_id"))
        .order_by("-confidence", "id")
    )
    wanted = max(0, min(count, MAX_OFFERS_PER_REQUEST))
    until = project.lease_end(now)
    held: list[int] = []
    tried: set[int] = set()
    while len(held) < wanted:
        page = list(candidates.exclude(pk__in=tried).values_list("pk", flat=True)[: wanted - len(held)])
        if not page:
            break
        for pk in page:
            tried.add(pk)
            if assignment.hold(project, "offer", pk, user, until, now):
                held.append(pk)
    offers = PseudoLabelOffer.objects.filter(pk__in=held).select_related("face", "model_version")
    return list(offers.order_by("-confidence", "id"))


def answer_offer(
    project: Project,
    user: User,
    offer_id: int,
    *,
    accept: bool,
    client_id: uuid.UUID,
    time_spent_ms: int = 0,
) -> AnswerResult:
    """Confirm or reject an open offer; a repeated ``client_id`` returns the stored answer.

    One conditional ``UPDATE ... WHERE state = 'offered'`` decides, so of two annotators
    answering the same offer at once exactly one wins. The answer spends no budget and no quota.

    Raises:
        NotAllowed: the user is not a member of the project.
        InvalidInput: no such offer in this project, or the client id answered another offer.
        Conflict: the project no longer offers confirmations, or another annotator answered first.
        FaceNotAvailable: a newer model withdrew the offer, or the user already voted on the face.
    """
    replay = _replay(user, client_id, offer_id)
    if replay is not None:
        return replay
    require_membership(project.pk, user)
    offer = PseudoLabelOffer.objects.filter(project=project, pk=offer_id).first()
    if offer is None:
        raise InvalidInput(f"offer {offer_id} is not in this project")
    if not project.offer_confirmations:
        raise Conflict("this project does not offer confirmations any more")
    if Vote.objects.filter(face_id=offer.face_id, annotator=user, retracted_at__isnull=True).exists():
        raise FaceNotAvailable("you already voted on this face")
    try:
        with transaction.atomic():
            won = PseudoLabelOffer.objects.filter(pk=offer.pk, state=OfferState.OFFERED).update(
                state=OfferState.CONFIRMED if accept else OfferState.REJECTED,
                answered_by=user,
                answered_at=timezone.now(),
                client_id=client_id,
                time_spent_ms=time_on_screen(time_spent_ms),
            )
    except IntegrityError:
        won = 0  # the same client id, sent in parallel, answered it first
    if won:
        assignment.release("offer", offer.pk)
        offer.refresh_from_db()
        return AnswerResult(offer, replayed=False)
    replay = _replay(user, client_id, offer_id)
    if replay is not None:
        return replay
    offer.refresh_from_db()
    if offer.state == OfferState.WITHDRAWN:
        raise FaceNotAvailable("a newer model withdrew this offer")
    raise Conflict("another annotator answered this offer first")


def undo_answer(project: Project, user: User) -> UndoResult:
    """Reopen the user's latest answered offer, unless a newer model has replaced it since.

    Every model version withdraws the open offers of the one before, so an answer to an
    older version's offer stays: reopening it would offer a stale guess. The reopened offer
    is held for the user, who is shown it again.

    Raises:
        NothingToUndo: no answer of the user's, or a newer model came since their latest.
    """
    with transaction.atomic():
        offer = (
            PseudoLabelOffer.objects.select_for_update()
            .select_related("model_version", "face")
            .filter(project=project, answered_by=user, state__in=ANSWERED)
            .order_by("-answered_at", "-id")
            .first()
        )
        if offer is None:
            raise NothingToUndo("you have no answered offer to undo")
        newer_model = ModelVersion.objects.filter(project=project, version__gt=offer.model_version.version)
        newer_offer = PseudoLabelOffer.objects.filter(face_id=offer.face_id, pk__gt=offer.pk)
        if newer_model.exists() or newer_offer.exists():
            raise NothingToUndo("a newer model replaced this offer; your answer stays")
        PseudoLabelOffer.objects.filter(pk=offer.pk, state=offer.state).update(
            state=OfferState.OFFERED,
            answered_by=None,
            answered_at=None,
            client_id=None,
            time_spent_ms=0,
        )
        assignment.hold_for(project, "offer", offer.pk, user, project.lease_end())
    undone_state = offer.state
    offer.refresh_from_db()
    return UndoResult(offer, undone_state)


def _replay(user: User, client_id: uuid.UUID, offer_id: int) -> AnswerResult | None:
    mine = PseudoLabelOffer.objects.filter(answered_by=user)
    existing = earlier_answer(mine, client_id, offer_id, target_field="pk", noun="offer")
    return None if existing is None else AnswerResult(existing, replayed=True)
