"""What the API answers for each failure: its code and HTTP status, inherited where not named."""

from __future__ import annotations

from annotator.services.errors import (
    BudgetExhausted,
    Conflict,
    FaceNotAvailable,
    InvalidInput,
    NotAllowed,
    NothingToUndo,
    QuotaReached,
    ServiceError,
)
from annotator.services.invites import InviteNotUsable
from annotator.services.memberships import NotAMember, RoleRequired


def test_each_failure_has_its_code_and_status():
    errors = [
        ServiceError,
        InvalidInput,
        NotAllowed,
        BudgetExhausted,
        QuotaReached,
        FaceNotAvailable,
        NothingToUndo,
        Conflict,
        InviteNotUsable,
        NotAMember,
        RoleRequired,
    ]

    assert {error.__name__: (error.code, error.status) for error in errors} == {
        "ServiceError": ("invalid", 400),
        "InvalidInput": ("invalid", 400),
        "NotAllowed": ("not_allowed", 403),
        "BudgetExhausted": ("budget_spent", 409),
        "QuotaReached": ("quota_reached", 409),
        "FaceNotAvailable": ("face_not_available", 409),
        "NothingToUndo": ("nothing_to_undo", 409),
        "Conflict": ("conflict", 409),
        "InviteNotUsable": ("invite_not_usable", 410),
        "NotAMember": ("not_allowed", 403),
        "RoleRequired": ("not_allowed", 403),
    }


def test_an_error_keeps_its_message_and_fields_and_its_parent_class():
    error = InviteNotUsable("expired", fields={"token": ["expired"]})

    assert (error.message, error.fields, str(error)) == ("expired", {"token": ["expired"]}, "expired")
    assert isinstance(error, InvalidInput)
    assert not isinstance(error, NotAllowed)
