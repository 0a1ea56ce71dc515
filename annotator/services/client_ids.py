"""Idempotent answers: a client id names one answer, so a resent request returns the first one.

The browser gives every answer (a vote, a confirmation) a fresh UUID and resends it after a
timeout; the answer's row stores the id under a unique constraint with its author. A request
whose id is already stored is a replay: it gets the stored answer, and nothing is written
twice. The same id sent for another face is a client bug, reported as invalid input.
"""

from __future__ import annotations

import uuid
from typing import TypeVar

from django.db.models import Model, QuerySet

from annotator.services.errors import InvalidInput

Answer = TypeVar("Answer", bound=Model)


def earlier_answer(
    answers: QuerySet[Answer], client_id: uuid.UUID, target_id: int, *, target_field: str, noun: str
) -> Answer | None:
    """The author's answer already stored under ``client_id``, or None if this is its first sending.

    Args:
        answers: the author's answers of this kind (e.g. their votes).
        client_id: the id the client sent with this answer.
        target_id: what this answer is about (a face's id, an offer's id).
        target_field: the answer's field that holds what it is about.
        noun: what the target is called in the error message.

    Raises:
        InvalidInput: the id was already used for an answer about another target.
    """
    existing = answers.filter(client_id=client_id).first()
    if existing is None:
        return None
    if getattr(existing, target_field) != target_id:
        raise InvalidInput(f"this client id was already used for another {noun}")
    return existing
