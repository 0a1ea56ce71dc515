"""ORM models, one module per aggregate; import them from here."""

from __future__ import annotations

from annotator.models.faces import TAB_MAX_LENGTH, Face, Split, Vote, VoteKind
from annotator.models.invites import Invite
from annotator.models.jobs import ACTIVE_JOB_STATES, Job, JobKind, JobState, ModelVersion
from annotator.models.projects import (
    BOUNDS,
    MAX_VOTES,
    AuxiliaryTask,
    InitialSelection,
    Membership,
    ModelName,
    Project,
    ProjectClass,
    Role,
    SslMethod,
    Strategy,
    TrainingMode,
)
from annotator.models.pseudo_labels import OfferState, PseudoLabelOffer
from annotator.models.queue import ChosenBy, Cycle, CycleState, Lease, QueueEntry
from annotator.models.reviews import Exclusion, ExclusionReason, Review

__all__ = [
    "ACTIVE_JOB_STATES",
    "BOUNDS",
    "MAX_VOTES",
    "TAB_MAX_LENGTH",
    "AuxiliaryTask",
    "ChosenBy",
    "Cycle",
    "CycleState",
    "Exclusion",
    "ExclusionReason",
    "Face",
    "InitialSelection",
    "Invite",
    "Job",
    "JobKind",
    "JobState",
    "Lease",
    "Membership",
    "ModelName",
    "ModelVersion",
    "OfferState",
    "Project",
    "ProjectClass",
    "PseudoLabelOffer",
    "QueueEntry",
    "Review",
    "Role",
    "Split",
    "SslMethod",
    "Strategy",
    "TrainingMode",
    "Vote",
    "VoteKind",
]
