"""Pseudo-labels offered as one-key confirmations: publishing a model's offers, answering them.

A semi-supervised model version offers the pool faces whose pseudo-label clears its class's
Ada-CM margin (seed 002, Algorithm 1 line 12). Each new model version withdraws the open
offers of the previous one, since its own confidence replaces theirs. Answers are counted
apart from votes: they spend no budget and no quota.
"""

from __future__ import annotations

from collections.abc import Sequence

from annotator.ml_bridge.cycles import PseudoLabelOffer as Offer
from annotator.models import Item, ModelVersion, OfferState, Project, PseudoLabelOffer


def publish_offers(project: Project, version: ModelVersion, offers: Sequence[Offer]) -> int:
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
        Item.objects.filter(
            project=project, pk__in=[offer.item_id for offer in offers], label_index__isnull=True
        )
        .exclude(pseudo_label_offers__state__in=[OfferState.CONFIRMED, OfferState.REJECTED])
        .values_list("pk", flat=True)
    )
    created = PseudoLabelOffer.objects.bulk_create(
        PseudoLabelOffer(
            project=project,
            item_id=offer.item_id,
            model_version=version,
            class_index=offer.class_index,
            confidence=offer.confidence,
            margin=offer.margin,
        )
        for offer in offers
        if offer.item_id in still_open
    )
    return len(created)
