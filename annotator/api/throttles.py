"""Rate limits on the endpoints a script could hammer: the token endpoint, votes and imports.

Each view names its scope; the rates are the ``DEFAULT_THROTTLE_RATES`` of ``REST_FRAMEWORK``
(set from the environment in the settings). The counts live in the ``throttle`` cache, a
folder of files rather than Redis: labeling must go on while Redis is down, and a throttle
whose cache is gone would fail every vote.
"""

from __future__ import annotations

from django.core.cache import caches
from django.utils.connection import ConnectionProxy
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

TOKEN = "token"
VOTES = "votes"
IMPORTS = "imports"


class WriteThrottle(ScopedRateThrottle):
    """DRF's scoped throttle, counting writes only, per user (or per address when signed out).

    Reads (the vote list, an import job's progress) are not limited. The rate is looked up at
    each request, so a changed setting applies without a restart of the class.
    """

    cache = ConnectionProxy(caches, "throttle")

    def allow_request(self, request: Request, view: APIView) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
