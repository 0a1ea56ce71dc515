"""``/metrics``: the Prometheus scrape, for operators only (the metrics are in :mod:`annotator.metrics`).

Queue lengths, job counts and who is idle tell an outsider how the service is used, so the
endpoint is not public: a scraper sends ``Authorization: Bearer <FACELOOP_METRICS_TOKEN>``, and
a signed-in staff user may look from a browser. With no token set it answers 404 to everyone
else, as if it did not exist; a missing token gets 401, a wrong one 403.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from annotator.metrics import FaceLoopCollector

registry = CollectorRegistry()
registry.register(FaceLoopCollector())


@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Every metric, to a scraper with the token or to staff: in OpenMetrics when the scraper asks
    for it (Prometheus does), else in Prometheus' text format 0.0.4."""
    if not request.user.is_staff:
        refused = refusal(request)
        if refused is not None:
            return refused
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encode(registry), content_type=content_type)


def refusal(request: HttpRequest) -> HttpResponse | None:
    """None when the request carries the token; else the answer: 404 (no token set), 401 or 403."""
    expected = settings.FACELOOP_METRICS_TOKEN
    if not expected:
        raise Http404
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        response = HttpResponse("a bearer token is required", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if not secrets.compare_digest(given.strip().encode(), expected.encode()):
        return HttpResponse("wrong token", status=403, content_type="text/plain")
    return None
