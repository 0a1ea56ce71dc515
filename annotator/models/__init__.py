"""ORM models, one module per aggregate; import them from here."""

from __future__ import annotations

from annotator.models.items import TAB_MAX_LENGTH, Item, Split, Vote, VoteKind
from annotator.models.jobs import ACTIVE_JOB_STATES, Job, JobKind, JobState, ModelVersion
from annotator.models.projects import (
    BOUNDS,
    MAX_VOTES,
    AuxiliaryTask,
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
from annotator.models.queue import Cycle, CycleState, Lease, QueueEntry

__all__ = [
    "ACTIVE_JOB_STATES",
    "BOUNDS",
    "MAX_VOTES",
    "TAB_MAX_LENGTH",
    "AuxiliaryTask",
    "Cycle",
    "CycleState",
    "Item",
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
    "Role",
    "Split",
    "SslMethod",
    "Strategy",
    "TrainingMode",
    "Vote",
    "VoteKind",
]
