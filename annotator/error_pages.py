"""Error answers that give nothing away: a plain page for browsers, a JSON body for the API.

With DEBUG off (the default) Django calls these for a bad request (a ``Host`` header outside
``ALLOWED_HOSTS``), a refusal, an unknown URL and an unhandled exception. API clients get the
``{"detail": ...}`` body DRF gives for its own errors; pages look like the rest of the site.
None shows the exception, a setting or the URL patterns: the traceback goes to the log only.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader

API_PREFIX = "/api/"
API_MESSAGES = {
    400: "Bad request.",
    403: "You do not have permission to perform this action.",
    404: "Not found.",
    500: "Server error.",
}


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _answer(request, 400, with_user=False)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _answer(request, 403, with_user=True)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _answer(request, 404, with_user=True)


def server_error(request: HttpRequest) -> HttpResponse:
    return _answer(request, 500, with_user=False)


def _answer(request: HttpRequest, status: int, *, with_user: bool) -> HttpResponse:
    """``with_user``: render with the request (the signed-in user's name in the top bar).

    A bad request or a failure may come from the request itself (its host, its session, the
    database behind its user), so those pages are rendered without it and cannot fail again.
    """
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": API_MESSAGES[status]}, status=status)
    template = loader.get_template(f"{status}.html")
    return HttpResponse(template.render(request=request if with_user else None), status=status)


class ClientErrorsInOneLine(logging.Filter):
    """Log a 4xx as its one line ("Forbidden (Permission denied): /projects/3/settings/"), no traceback.

    Django's ``django.request`` logger attaches the exception to the warnings of a refused page
    (403) or a missing one (404): a stack trace for every user who follows a stale link is noise
    that buries the 500s, whose tracebacks are what the log is for. Those keep theirs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if 400 <= getattr(record, "status_code", 500) < 500:
            record.exc_info = None
            record.exc_text = None
        return True
