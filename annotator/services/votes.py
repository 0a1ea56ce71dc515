"""Casting and retracting votes: the budget, quotas and votes per face hold under concurrency.

Every counter moves by a conditional ``UPDATE ... WHERE`` whose row count decides, inside
one transaction with the vote's insert, so two annotators spending the last vote at once
cannot both succeed: one gets :class:`BudgetExhausted` and nothing of theirs is written.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from annotator import assignment, ml_bridge, sql
from annotator.assignment import current_cycle
from annotator.models import (
    Cycle,
    CycleState,
    Face,
    Membership,
    Project,
    QueueEntry,
    Split,
    Vote,
    VoteKind,
)
from annotator.services import training
from annotator.services.client_ids import earlier_answer
from annotator.services.cycle_states import clear_labeling_completed, mark_labeling_completed
from annotator.services.errors import (
    BudgetExhausted,
    FaceNotAvailable,
    InvalidInput,
    NothingToUndo,
    QuotaReached,
    ServiceError,
)
from annotator.services.memberships import require_membership
from annotator.services.time_on_screen import time_on_screen

# A vote's statements, written out (``annotator.sql``).
CLASS_COUNT_SQL = 'SELECT COUNT(*) FROM "annotator_projectclass" WHERE "project_id" = %s'
FACE_SQL = 'SELECT * FROM "annotator_face" WHERE "project_id" = %s AND "id" = %s'
OPEN_ENTRY_SQL = """
    SELECT e.* FROM "annotator_queueentry" e JOIN "annotator_cycle" c ON c."id" = e."cycle_id"
    WHERE c."project_id" = %s AND c."state" = %s AND e."face_id" = %s ORDER BY c."number" DESC LIMIT 1
"""
CYCLE_SQL = 'SELECT * FROM "annotator_cycle" WHERE "id" = %s'
SPEND_BUDGET_SQL = """
    UPDATE "annotator_project" SET "votes_spent" = "votes_spent" + 1
    WHERE "id" = %s AND "votes_spent" < "budget_votes"
"""
SPEND_QUOTA_SQL = """
    UPDATE "annotator_membership" SET "votes_cast" = "votes_cast" + 1
    WHERE "id" = %s AND ("quota_votes" IS NULL OR "votes_cast" < "quota_votes")
"""
LIVE_ANSWERS_SQL = """
    SELECT "candidate_set" FROM "annotator_vote"
    WHERE "face_id" = %s AND "retracted_at" IS NULL AND "kind" <> %s
"""
SET_FACE_LABEL_SQL = """
    UPDATE "annotator_face" SET "class_votes" = %s, "vote_count" = %s, "label_index" = %s,
    "candidate_set" = %s, "top_vote_share" = %s WHERE "id" = %s
"""
COUNT_VOTE_SQL = 'UPDATE "annotator_queueentry" SET "votes_received" = "votes_received" + 1 WHERE "id" = %s'


def class_count(project: Project) -> int:
    """The project's number of classes, counted once per project object (classes never change)."""
    cached = project.__dict__  # the instance's own attributes: a cache that lives as long as it
    if "_class_count" not in cached:
        cached["_class_count"] = sql.rows(CLASS_COUNT_SQL, [project.pk])[0][0]
    return cached["_class_count"]


@dataclass(frozen=True)
class Answer:
    """What an annotator said about a face, validated against the project's classes."""

    kind: str
    classes: tuple[int, ...]

    @classmethod
    def parse(cls, project: Project, kind: str, classes: list[int]) -> Answer:
        num_classes = class_count(project)
        if kind not in VoteKind.values:
            raise InvalidInput(f"unknown kind {kind!r}; use one of {VoteKind.values}")
        unknown = sorted({c for c in classes if not 0 <= c < num_classes})
        if unknown:
            raise InvalidInput(
                f"unknown class index {unknown}; this project has classes 0..{num_classes - 1}"
            )
        chosen = tuple(sorted(set(classes)))
        if kind == VoteKind.LABEL and len(chosen) != 1:
            raise InvalidInput("a label vote names exactly one class")
        if kind == VoteKind.UNSURE and len(chosen) < 2:
            raise InvalidInput("an unsure vote names at least two plausible classes")
        if kind == VoteKind.SKIP and chosen:
            raise InvalidInput("a skip names no class")
        return cls(kind, chosen)


@dataclass(frozen=True)
class VoteResult:
    vote: Vote
    replayed: bool
    batch_completed: bool = False


def submit_vote(
    project: Project,
    annotator: User,
    *,
    face_id: int,
    answer: Answer,
    client_id: uuid.UUID,
    time_spent_ms: int = 0,
    membership: Membership | None = None,
    tab: str = "",
) -> VoteResult:
    """Record a vote; a repeated ``client_id`` returns the stored vote (``replayed=True``).

    The face may be leased to any tab of the annotator (``tab`` is the one answering): it is
    the same person's one vote, so an answer from the other tab is never lost.

    Raises:
        NotAllowed: the user is not a member of the project (``membership``, when the
            caller already has it, saves looking it up).
        InvalidInput: the face is not in this project, or is a test face.
        FaceNotAvailable: not in the current batch, already fully voted, or already answered.
        BudgetExhausted, QuotaReached: no vote left to spend.
    """
    if membership is None or membership.user_id != annotator.pk or membership.project_id != project.pk:
        membership = require_membership(project.pk, annotator)
    try:
        with transaction.atomic():
            vote = _record(project, membership, face_id, answer, client_id, time_spent_ms, tab)
    except (IntegrityError, ServiceError) as error:
        # A resent request (its client id is stored: the unique constraint, or the face
        # already answered, stopped it) or a parallel one with the same client id that won
        # while this one waited for the lock: the stored vote is this request's answer.
        # Looking for it only here, not before, saves the first sending (nearly every vote) a query.
        replay = _replay(annotator, client_id, face_id)
        if replay is not None:
            return replay
        if isinstance(error, ServiceError):
            raise
        raise FaceNotAvailable("you already answered this face") from error
    cycle = vote.cycle  # every face handed out belongs to a cycle's queue
    completed = (
        cycle is not None
        and vote.kind != VoteKind.SKIP
        and mark_labeling_completed(cycle, project.votes_per_face)
    )
    if completed and cycle is not None:
        training.on_cycle_labeled(cycle)
    return VoteResult(vote, replayed=False, batch_completed=completed)


def _replay(annotator: User, client_id: uuid.UUID, face_id: int) -> VoteResult | None:
    mine = Vote.objects.filter(annotator=annotator)
    existing = earlier_answer(mine, client_id, face_id, target_field="face_id", noun="face")
    return None if existing is None else VoteResult(existing, replayed=True)


def _record(
    project: Project,
    membership: Membership,
    face_id: int,
    answer: Answer,
    client_id: uuid.UUID,
    time_spent_ms: int,
    tab: str,
) -> Vote:
    face = next(iter(Face.objects.raw(FACE_SQL + sql.for_update(), [project.pk, face_id])), None)
    if face is None:
        raise InvalidInput(f"face {face_id} is not in this project")
    if face.split != Split.POOL and not (face.split == Split.TEST and face.imported_label is None):
        raise InvalidInput(
            "only pool faces and a reserved test sample are labeled: labeled test faces and auxiliary faces never are"
        )
    if face.excluded:
        raise FaceNotAvailable("this face was excluded from the project")
    entry = next(
        iter(QueueEntry.objects.raw(OPEN_ENTRY_SQL, [project.pk, CycleState.LABELING.value, face.pk])), None
    )
    if entry is None:
        raise FaceNotAvailable("this face is not in the current batch")
    cycle = entry.cycle = next(iter(Cycle.objects.raw(CYCLE_SQL, [entry.cycle_id])))
    if answer.kind != VoteKind.SKIP:
        _spend(project, membership)
    _settle_slot(project, entry, membership.user_id, answer.kind)
    vote = Vote(
        project=project,
        face=face,
        annotator=membership.user,
        cycle=cycle,
        client_id=client_id,
        kind=answer.kind,
        class_index=answer.classes[0] if answer.kind == VoteKind.LABEL else None,
        candidate_set=list(answer.classes),
        time_spent_ms=time_on_screen(time_spent_ms),
        tab=tab,
    )
    sql.insert(vote)
    if answer.kind != VoteKind.SKIP:
        refresh_face_label(face, project)
    return vote


def _spend(project: Project, membership: Membership) -> None:
    if not sql.execute(SPEND_BUDGET_SQL, [project.pk]):
        raise BudgetExhausted("the project's budget is spent")
    if not sql.execute(SPEND_QUOTA_SQL, [membership.pk]):
        raise QuotaReached("you have reached your vote quota for this project")


def _settle_slot(project: Project, entry: QueueEntry, annotator_id: int, kind: str) -> None:
    """Turn the annotator's lease into the vote's slot (:mod:`annotator.assignment` owns slots)."""
    if not assignment.settle_lease_for_vote(project, entry, annotator_id, skip=kind == VoteKind.SKIP):
        raise FaceNotAvailable("this face already has all its votes")
    if kind != VoteKind.SKIP:
        sql.execute(COUNT_VOTE_SQL, [entry.pk])


def refresh_face_label(face: Face, project: Project) -> None:
    """Recompute a face's vote counts, label and candidate set from its live votes."""
    counts = [0] * class_count(project)
    answers = [
        json.loads(value) if isinstance(value, str) else value  # SQLite's JSON is text
        for (value,) in sql.rows(LIVE_ANSWERS_SQL, [face.pk, VoteKind.SKIP.value])
    ]
    for classes in answers:
        for index in classes:
            counts[index] += 1
    label, candidates = ml_bridge.aggregate_votes(counts, project.candidate_min_votes)
    as_json = Face._meta.get_field("class_votes")
    sql.execute(
        SET_FACE_LABEL_SQL,
        [
            as_json.get_db_prep_save(counts, connection),
            len(answers),
            label,
            as_json.get_db_prep_save(candidates, connection),
            max(counts) / len(answers) if answers else None,
            face.pk,
        ],
    )


def retract_last_vote(project: Project, annotator: User, tab: str = "") -> Vote:
    """Undo the annotator's latest vote cast from ``tab`` in the current batch; the tab gets the face back.

    The vote is kept, marked retracted; the budget, quota and face counters are refunded and
    a fresh lease keeps the face reserved for the annotator's tab, which shows it again. Undo
    in one tab never takes back an answer given in another.
    """
    with transaction.atomic():
        cycle = current_cycle(project)
        vote = (
            Vote.objects.select_for_update()
            .filter(project=project, annotator=annotator, tab=tab, retracted_at__isnull=True)
            .order_by("-created_at", "-id")
            .first()
        )
        if vote is None or cycle is None or vote.cycle_id != cycle.pk:
            raise NothingToUndo("there is no vote of yours in the current batch to undo")
        Vote.objects.filter(pk=vote.pk).update(retracted_at=timezone.now())
        _refund(project, cycle, vote, annotator, tab)
        if vote.kind != VoteKind.SKIP:
            refresh_face_label(vote.face, project)
            clear_labeling_completed(cycle)
    vote.refresh_from_db()
    return vote


def _refund(project: Project, cycle: Cycle, vote: Vote, annotator: User, tab: str) -> None:
    entry = QueueEntry.objects.get(cycle=cycle, face_id=vote.face_id)
    skip = vote.kind == VoteKind.SKIP
    if not skip:
        Project.objects.filter(pk=project.pk, votes_spent__gt=0).update(votes_spent=F("votes_spent") - 1)
        Membership.objects.filter(project=project, user=annotator, votes_cast__gt=0).update(
            votes_cast=F("votes_cast") - 1
        )
        QueueEntry.objects.filter(pk=entry.pk, votes_received__gt=0).update(
            votes_received=F("votes_received") - 1
        )
    # An undone skip gets no lease when someone else took the face meanwhile; the skip is undone.
    assignment.lease_after_undo(project, entry, annotator, tab, skip=skip)
