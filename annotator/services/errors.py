"""Failures a user can cause, each with a stable code and the HTTP status the API answers with."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class: ``code`` is machine-readable, the message is for people."""

    code = "invalid"
    status = 400

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}  # per setting at fault, why: forms show each next to its field


class InvalidInput(ServiceError):
    code = "invalid"
    status = 400


class NotAllowed(ServiceError):
    code = "not_allowed"
    status = 403


class BudgetExhausted(ServiceError):
    code = "budget_spent"
    status = 409


class QuotaReached(ServiceError):
    code = "quota_reached"
    status = 409


class FaceNotAvailable(ServiceError):
    """The face is not in the current queue, already has its votes, or was already answered."""

    code = "face_not_available"
    status = 409


class NothingToUndo(ServiceError):
    code = "nothing_to_undo"
    status = 409


class Conflict(ServiceError):
    code = "conflict"
    status = 409
