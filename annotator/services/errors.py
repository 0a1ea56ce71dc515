"""Failures a user can cause, each with a stable code and the HTTP status the API answers with."""

from __future__ import annotations

from typing import Any, ClassVar


class ServiceError(Exception):
    """Base class: ``code`` is machine-readable, the message is for people.

    A subclass names its code and status in its header (``class Gone(ServiceError, code="gone",
    status=410)``); one that names neither answers as its parent does.
    """

    code: ClassVar[str] = "invalid"
    status: ClassVar[int] = 400

    def __init_subclass__(cls, *, code: str | None = None, status: int | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.code = code or cls.code
        cls.status = status or cls.status

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}  # per setting at fault, why: forms show each next to its field


class InvalidInput(ServiceError, code="invalid", status=400):
    """The request holds a value the service refuses, or names something not in the project."""


class NotAllowed(ServiceError, code="not_allowed", status=403):
    """The user may not do this in this project."""


class BudgetExhausted(ServiceError, code="budget_spent", status=409):
    """The project's budget has no vote left to spend."""


class QuotaReached(ServiceError, code="quota_reached", status=409):
    """The annotator has cast every vote their quota allows."""


class FaceNotAvailable(ServiceError, code="face_not_available", status=409):
    """The face is not in the current queue, already has its votes, or was already answered."""


class NothingToUndo(ServiceError, code="nothing_to_undo", status=409):
    """There is nothing of the user's left that an undo could take back."""


class Conflict(ServiceError, code="conflict", status=409):
    """The project's state does not allow this now (a job running, labeling not started...)."""
