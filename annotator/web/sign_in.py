"""What a locked-out sign-in sees: django-axes calls :func:`locked_out` instead of its own page.

After ``AXES_FAILURE_LIMIT`` failed sign-ins for one username, or from one address, both the
sign-in page and the API's token endpoint refuse for ``AXES_COOLOFF_TIME`` (429, with
``Retry-After``). The page says so in a sentence; the API answers its usual ``{"detail": ...}``.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

TOO_MANY_REQUESTS = 429


def lockout_sentence() -> str:
    minutes = round(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    return (
        "Too many failed sign-ins for this account or from this address: "
        f"signing in is blocked for {minutes} minutes. Try again later, or ask an administrator."
    )


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """django-axes' ``AXES_LOCKOUT_CALLABLE``: the refusal, as a page or as the API's JSON."""
    sentence = lockout_sentence()
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            {"code": "locked_out", "detail": sentence}, status=TOO_MANY_REQUESTS
        )
    else:
        context = {"locked_out": sentence, "next": request.POST.get("next", "")}
        response = render(request, "registration/login.html", context, status=TOO_MANY_REQUESTS)
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response
