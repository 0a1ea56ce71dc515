"""The refusals an operation documents next to its success, so the schema lists every status it answers.

Two body shapes come back on a refusal. DRF's own errors (not signed in, not an owner, no
such object, a page past the end) are ``{"detail": ...}``; a service error adds its stable
``code`` (see :mod:`annotator.services.errors`). A 400 from a serializer instead maps each
refused field to its messages, so its schema is an object of any shape.

Every API operation needs a signed-in user, and DRF answers a missing or unknown session
or token with 403 (the first authenticator, the session, sends no challenge, so never 401);
every operation under a project answers 404 to a user who is not its member.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField(
        required=False, help_text="A service error's stable code, e.g. budget_spent or conflict."
    )


DEFAULT_DESCRIPTIONS = {
    400: "Refused input: messages per field, or a code and a detail.",
    403: "Not signed in, or an action for the project's owners only.",
    404: "No such project among yours, or nothing with that id in it.",
    409: "The project's current state refuses this; the code and detail say why.",
}
LIST_NOT_FOUND = "No such project among yours, or a page past the end."


def errors(*statuses: int, **descriptions: str) -> dict[int, OpenApiResponse]:
    """Responses for ``statuses`` (400, 403, 404, 409); ``descriptions`` override by name.

    Names are ``invalid``, ``forbidden``, ``not_found`` and ``conflict``; naming one also
    documents its status, e.g. ``errors(403, 404, conflict="Nothing to undo.")``.
    """
    names = {"invalid": 400, "forbidden": 403, "not_found": 404, "conflict": 409}
    unknown = set(descriptions) - set(names)
    if unknown:
        raise ValueError(f"unknown error names {sorted(unknown)}; use {sorted(names)}")
    described = {names[name]: text for name, text in descriptions.items()}
    responses = {}
    for status in sorted({*statuses, *described}):
        body = OpenApiTypes.OBJECT if status == 400 else ErrorSerializer
        text = described.get(status, DEFAULT_DESCRIPTIONS[status])
        responses[status] = OpenApiResponse(body, description=text)
    return responses


def document_body_limit(result: dict, generator, request, public: bool) -> dict:
    """Schema hook: every operation that takes a body may answer 413.

    :class:`annotator.request_limits.RequestBodyLimitMiddleware` refuses an oversized body
    before any view runs, so no view's decorator could list it.
    """
    for path_item in result["paths"].values():
        for operation in path_item.values():
            if "requestBody" in operation:
                operation["responses"].setdefault(
                    "413",
                    {
                        "description": "The body is over its limit (uploads: FACELOOP_MAX_UPLOAD_BYTES).",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                )
    return result


def list_errors(**descriptions: str) -> dict[int, OpenApiResponse]:
    """The refusals of a paginated list under a project: a malformed page, access, a page past the end."""
    return errors(400, 403, **{"not_found": LIST_NOT_FOUND, **descriptions})
