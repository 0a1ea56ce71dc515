"""``/healthz``: is each part of the stack up? Database, Redis and a worker for each queue.

Anyone may ask (a load balancer has no account), so anyone gets only ``{"status": "ok"}`` or
``{"status": "error"}``. Which part failed, the Redis version, the database vendor and the
workers' host names tell an attacker what to aim at: those details go to staff users only,
and to operators on the server through ``manage.py health``. The checks themselves are in
:mod:`annotator.health_checks`.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from annotator.health_checks import report


def healthz(request: HttpRequest) -> JsonResponse:
    """200 with every part ok, else 503; the body is the status alone, or every check's details for staff."""
    healthy, details = report()
    body = details if request.user.is_staff else {"status": details["status"]}
    return JsonResponse(body, status=200 if healthy else 503)
