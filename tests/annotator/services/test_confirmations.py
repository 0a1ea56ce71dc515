"""Pseudo-label offers: publishing, answering (also at once), undo, and what training gets."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from annotator import ml_bridge
from annotator.models import Face, Lease, Membership, OfferState, Project, PseudoLabelOffer, Vote
from annotator.services import confirmations, votes
from annotator.services.cycle_inputs import cycle_inputs
from annotator.services.errors import (
    Conflict,
    FaceNotAvailable,
    InvalidInput,
    NotAllowed,
    NothingToUndo,
)
from tests.annotator.factories import (
    FaceFactory,
    UserFactory,
    add_annotator,
    make_labeling_project,
    make_project,
    publish_test_offers,
)
from tests.annotator.services.test_vote_concurrency import run_together

THREADS = 8


def offer_project(pool: int = 6) -> tuple[Project, list[int]]:
    """A semi-supervised project offering confirmations, with ``pool`` unlabeled pool faces."""
    project = make_project(training_mode="semi_supervised", offer_confirmations=True)
    faces = [FaceFactory(project=project).pk for _ in range(pool)]
    return project, faces


def answer(project, user, offer, accept=True, client_id=None, time_spent_ms=800):
    return confirmations.answer_offer(
        project,
        user,
        offer.pk,
        accept=accept,
        client_id=client_id or uuid.uuid4(),
        time_spent_ms=time_spent_ms,
    )


@pytest.mark.django_db
def test_publishing_withdraws_the_open_offers_and_skips_labeled_and_answered_faces():
    project, faces = offer_project()
    user = add_annotator(project).user
    first = publish_test_offers(project, [(faces[0], 1, 0.97), (faces[1], 2, 0.95), (faces[2], 0, 0.93)])
    answer(project, user, first[0], accept=False)
    Face.objects.filter(pk=faces[3]).update(label_index=3)

    second = publish_test_offers(
        project, [(faces[0], 1, 0.99), (faces[1], 2, 0.96), (faces[3], 3, 0.98), (faces[4], 0, 0.91)]
    )

    assert [(o.face_id, o.class_index) for o in second] == [(faces[1], 2), (faces[4], 0)]
    states = dict(
        PseudoLabelOffer.objects.filter(model_version=first[0].model_version).values_list("face_id", "state")
    )
    assert states == {faces[0]: "rejected", faces[1]: "withdrawn", faces[2]: "withdrawn"}
    assert PseudoLabelOffer.objects.filter(state=OfferState.OFFERED).count() == 2


@pytest.mark.django_db
def test_a_project_without_confirmations_publishes_none_and_shows_none():
    project = make_project(training_mode="semi_supervised")
    face = FaceFactory(project=project).pk
    assert publish_test_offers(project, [(face, 0, 0.99)]) == []
    assert confirmations.next_offers(project, project.owner, 5) == []


@pytest.mark.django_db
def test_next_offers_are_most_confident_first_and_leave_out_faces_voted_on():
    project = make_labeling_project(pool=6, training_mode="semi_supervised", offer_confirmations=True)
    user, other = add_annotator(project).user, add_annotator(project).user
    unsure, labeled, *rest = project.cycles.get().entries.values_list("face_id", flat=True)[:5]
    publish_test_offers(
        project,
        [(rest[0], 1, 0.91), (unsure, 1, 0.99), (labeled, 3, 0.98), (rest[1], 2, 0.97), (rest[2], 0, 0.95)],
    )
    # Votes after the model scored the faces: an unsure one (no label) and another's label.
    votes.submit_vote(
        project, user, face_id=unsure, answer=votes.Answer("unsure", (1, 2)), client_id=uuid.uuid4()
    )
    votes.submit_vote(
        project, other, face_id=labeled, answer=votes.Answer("label", (3,)), client_id=uuid.uuid4()
    )

    assert [o.face_id for o in confirmations.next_offers(project, user, 2)] == rest[1:3]
    mine = confirmations.next_offers(project, user, 5)
    assert [o.face_id for o in mine] == [rest[1], rest[2], rest[0]]
    owners = confirmations.next_offers(project, project.owner, 5)
    assert [o.face_id for o in owners] == [unsure]  # the rest are held for the user
    with pytest.raises(NotAllowed):
        confirmations.next_offers(project, UserFactory(), 5)


@pytest.mark.django_db
def test_an_offer_shown_to_one_annotator_is_held_for_them_until_the_lease_ends():
    project, faces = offer_project()
    first, second = add_annotator(project).user, add_annotator(project).user
    offers = publish_test_offers(project, [(faces[i], 1, 0.99 - i / 100) for i in range(5)])

    def shown(user, count=2):
        return [o.pk for o in confirmations.next_offers(project, user, count)]

    assert shown(first) == [offers[0].pk, offers[1].pk]
    assert shown(second) == [offers[2].pk, offers[3].pk]
    assert shown(first, 3) == [offers[0].pk, offers[1].pk, offers[4].pk]
    assert shown(second, 3) == [offers[2].pk, offers[3].pk]
    held = Lease.objects.get(offer=offers[0])
    assert (held.annotator, held.entry, held.review_face) == (first, None, None)
    assert (held.expires_at - timezone.now()).total_seconds() == pytest.approx(project.lease_seconds, abs=5)
    assert not Lease.objects.filter(offer__isnull=False).exclude(offer__in=offers[:5]).exists()

    Lease.objects.filter(annotator=first).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert shown(second, 5) == [offers[0].pk, offers[1].pk, offers[2].pk, offers[3].pk, offers[4].pk]
    assert answer(project, first, offers[0]).offer.state == "confirmed"  # a hold does not lock the answer
    assert not Lease.objects.filter(offer=offers[0]).exists()  # an answered offer is held no more
    assert Lease.objects.filter(offer=offers[1], annotator=second).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("accept", "state"), [(True, "confirmed"), (False, "rejected")])
def test_an_answer_records_who_when_and_how_long(accept, state):
    project, faces = offer_project()
    user = add_annotator(project).user
    offer = publish_test_offers(project, [(faces[0], 1, 0.97)])[0]
    client_id = uuid.uuid4()
    before = timezone.now()

    result = answer(project, user, offer, accept=accept, client_id=client_id, time_spent_ms=1234)

    assert result.replayed is False
    stored = PseudoLabelOffer.objects.get(pk=offer.pk)
    assert (stored.state, stored.answered_by, stored.client_id, stored.time_spent_ms) == (
        state,
        user,
        client_id,
        1234,
    )
    assert before <= stored.answered_at <= timezone.now()
    assert Face.objects.get(pk=faces[0]).label_index is None  # a pseudo-label is not a vote


@pytest.mark.django_db
def test_answers_spend_no_budget_no_quota_and_are_not_votes():
    project = make_labeling_project(training_mode="semi_supervised", offer_confirmations=True)
    membership = add_annotator(project, quota_votes=1)
    faces = list(project.cycles.get().entries.values_list("face_id", flat=True)[:3])
    offers = publish_test_offers(project, [(faces[0], 1, 0.97), (faces[1], 2, 0.96), (faces[2], 3, 0.95)])

    for offer, accept in zip(offers, [True, False, True], strict=True):
        answer(project, membership.user, offer, accept=accept)

    assert Project.objects.get(pk=project.pk).votes_spent == 0
    assert Membership.objects.get(pk=membership.pk).votes_cast == 0
    assert not Vote.objects.exists()


@pytest.mark.django_db
def test_a_retry_with_the_same_client_id_returns_the_stored_answer():
    project, faces = offer_project()
    user = add_annotator(project).user
    offers = publish_test_offers(project, [(faces[0], 1, 0.97), (faces[1], 2, 0.95)])
    client_id = uuid.uuid4()
    answer(project, user, offers[0], accept=True, client_id=client_id, time_spent_ms=500)

    retry = answer(project, user, offers[0], accept=False, client_id=client_id, time_spent_ms=900)

    assert retry.replayed is True
    assert (retry.offer.state, retry.offer.time_spent_ms) == ("confirmed", 500)
    with pytest.raises(InvalidInput, match="another offer"):
        answer(project, user, offers[1], client_id=client_id)
    assert PseudoLabelOffer.objects.get(pk=offers[1].pk).state == "offered"


@pytest.mark.django_db
def test_an_offer_answered_by_someone_else_is_a_conflict():
    project, faces = offer_project()
    alice, bob = add_annotator(project).user, add_annotator(project).user
    offer = publish_test_offers(project, [(faces[0], 1, 0.97)])[0]
    answer(project, alice, offer, accept=True)

    with pytest.raises(Conflict, match="answered this offer first") as refused:
        answer(project, bob, offer, accept=False)

    assert refused.value.status == 409
    stored = PseudoLabelOffer.objects.get(pk=offer.pk)
    assert (stored.state, stored.answered_by) == ("confirmed", alice)


@pytest.mark.django_db
def test_a_withdrawn_offer_cannot_be_answered():
    project, faces = offer_project()
    user = add_annotator(project).user
    old = publish_test_offers(project, [(faces[0], 1, 0.97)])[0]
    publish_test_offers(project, [(faces[0], 2, 0.96)])

    with pytest.raises(FaceNotAvailable, match="withdrew"):
        answer(project, user, old)

    assert PseudoLabelOffer.objects.get(pk=old.pk).state == "withdrawn"
    assert PseudoLabelOffer.objects.get(face_id=faces[0], state="offered").class_index == 2


@pytest.mark.django_db
def test_offers_elsewhere_faces_i_voted_on_and_strangers_are_refused():
    project = make_labeling_project(training_mode="semi_supervised", offer_confirmations=True)
    other, other_faces = offer_project()
    user = add_annotator(project).user
    face = project.cycles.get().entries.first().face_id
    offer = publish_test_offers(project, [(face, 1, 0.97)])[0]
    elsewhere = publish_test_offers(other, [(other_faces[0], 1, 0.97)])[0]

    with pytest.raises(InvalidInput, match="not in this project"):
        answer(project, user, elsewhere)
    with pytest.raises(NotAllowed):
        answer(project, UserFactory(), offer)
    votes.submit_vote(project, user, face_id=face, answer=votes.Answer("label", (2,)), client_id=uuid.uuid4())
    with pytest.raises(FaceNotAvailable, match="already voted"):
        answer(project, user, offer)
    assert not PseudoLabelOffer.objects.filter(answered_by__isnull=False).exists()


@pytest.mark.django_db
def test_undo_reopens_my_latest_answers_one_by_one():
    project, faces = offer_project()
    user, other = add_annotator(project).user, add_annotator(project).user
    offers = publish_test_offers(project, [(faces[0], 1, 0.97), (faces[1], 2, 0.96), (faces[2], 0, 0.95)])
    answer(project, user, offers[0], accept=True)
    answer(project, user, offers[1], accept=False)
    answer(project, other, offers[2], accept=True)

    undone = confirmations.undo_answer(project, user)
    assert (undone.offer.pk, undone.undone_state, undone.offer.state) == (offers[1].pk, "rejected", "offered")
    assert (undone.offer.answered_by, undone.offer.client_id, undone.offer.answered_at) == (None, None, None)
    assert confirmations.undo_answer(project, user).offer.pk == offers[0].pk
    with pytest.raises(NothingToUndo):
        confirmations.undo_answer(project, user)
    assert PseudoLabelOffer.objects.get(pk=offers[2].pk).state == "confirmed"  # someone else's answer stays
    assert confirmations.next_offers(project, other, 5) == []  # reopened and held for the user
    assert [o.pk for o in confirmations.next_offers(project, user, 5)] == [offers[0].pk, offers[1].pk]
    assert answer(project, user, offers[1], accept=True).offer.state == "confirmed"  # open again


@pytest.mark.django_db
def test_undo_is_refused_once_a_newer_model_replaced_the_offer():
    project, faces = offer_project()
    user = add_annotator(project).user
    offer = publish_test_offers(project, [(faces[0], 1, 0.97)])[0]
    answer(project, user, offer, accept=True)
    publish_test_offers(project, [(faces[1], 2, 0.96)])

    with pytest.raises(NothingToUndo, match="newer model"):
        confirmations.undo_answer(project, user)

    assert PseudoLabelOffer.objects.get(pk=offer.pk).state == "confirmed"


@pytest.mark.django_db
def test_a_confirmed_offer_trains_as_a_label_and_a_rejected_one_does_not(settings):
    project, faces = offer_project(pool=4)
    user = add_annotator(project).user
    Face.objects.filter(pk=faces[3]).update(label_index=0)
    confirmed, rejected = publish_test_offers(project, [(faces[0], 2, 0.97), (faces[1], 1, 0.96)])
    answer(project, user, confirmed, accept=True)
    answer(project, user, rejected, accept=False)

    rows = cycle_inputs(project).rows

    assert {row["id"]: row["confirmed_label"] for row in rows} == {
        faces[0]: 2,
        faces[1]: None,
        faces[2]: None,
        faces[3]: None,
    }
    dataset = ml_bridge.faces_to_dataset(("a", "b", "c", "d"), rows)
    assert dataset.labels.tolist() == [2, -1, -1, 0]
    assert dataset.splits.tolist() == ["train", "pool", "pool", "train"]


@pytest.mark.django_db(transaction=True)
def test_two_annotators_answering_at_once_exactly_one_wins():
    project, faces = offer_project()
    users = [add_annotator(project).user for _ in range(THREADS)]
    offer = publish_test_offers(project, [(faces[0], 1, 0.97)])[0]

    outcomes = run_together(
        [
            lambda u=u, i=i: answer(project, u, offer, accept=i % 2 == 0).offer.state
            for i, u in enumerate(users)
        ]
    )

    winners = [o for o in outcomes if o in ("confirmed", "rejected")]
    assert len(winners) == 1
    assert sorted(o for o in outcomes if o not in winners) == ["conflict"] * (THREADS - 1)
    stored = PseudoLabelOffer.objects.get(pk=offer.pk)
    assert stored.state == winners[0]
    assert stored.answered_by == users[outcomes.index(winners[0])]


@pytest.mark.django_db(transaction=True)
def test_annotators_asking_at_once_are_shown_different_offers():
    project, faces = offer_project(pool=2 * THREADS)
    users = [add_annotator(project).user for _ in range(THREADS)]
    publish_test_offers(project, [(face, 1, 0.9 + i / 1000) for i, face in enumerate(faces)])

    shown = run_together(
        [lambda u=u: [o.pk for o in confirmations.next_offers(project, u, 2)] for u in users]
    )

    assert [len(pks) for pks in shown] == [2] * THREADS
    assert len({pk for pks in shown for pk in pks}) == 2 * THREADS
    holders = dict(Lease.objects.values_list("offer_id", "annotator_id"))
    assert holders == {pk: user.pk for user, pks in zip(users, shown, strict=True) for pk in pks}


@pytest.mark.django_db(transaction=True)
def test_the_same_client_id_sent_in_parallel_answers_once():
    project, faces = offer_project()
    user = add_annotator(project).user
    offer = publish_test_offers(project, [(faces[0], 1, 0.97)])[0]
    client_id = uuid.uuid4()

    outcomes = run_together(
        [lambda: answer(project, user, offer, client_id=client_id).replayed for _ in range(6)]
    )

    assert sorted(outcomes) == [False] + [True] * 5
    assert PseudoLabelOffer.objects.get(pk=offer.pk).client_id == client_id
