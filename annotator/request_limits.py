"""A bound on every request body, checked from its declared length before a byte is parsed.

Uploads (``multipart/form-data``) may be as large as ``FACELOOP_MAX_UPLOAD_BYTES``; every
other body (JSON, forms) as large as ``DATA_UPLOAD_MAX_MEMORY_SIZE``. Django bounds only
the non-file part of a multipart body, and DRF's parsers read JSON straight from the
stream, past Django's check, so without this a client could make a worker hold or spool any
amount. A refused body is drained in small chunks: Django's development server reads what a
view left unread in one call, which for a large body would cost as much memory as parsing it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

DRAIN_CHUNK_BYTES = 64 * 1024


def body_limit(request: HttpRequest) -> int:
    """The largest body this request may carry, by its content type."""
    if request.content_type == "multipart/form-data":
        return settings.FACELOOP_MAX_UPLOAD_BYTES
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def declared_length(request: HttpRequest) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


class RequestBodyLimitMiddleware:
    """Answer 413, naming the limit, to a request whose declared body is over its limit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        length, limit = declared_length(request), body_limit(request)
        if length <= limit:
            return self.get_response(request)
        while request.read(DRAIN_CHUNK_BYTES):
            pass
        kind = "upload" if request.content_type == "multipart/form-data" else "request body"
        return JsonResponse(
            {"code": "too_large", "detail": f"the {kind} is {length} bytes, more than the limit of {limit}"},
            status=413,
        )
