"""Django's ASGI handler with the middleware and the view run in one thread hop per request.

Every FaceLoop view and most of its middleware are synchronous. Django's ``ASGIHandler``
loads the middleware in async mode, so each request crossed between the event loop and a
thread at every boundary: once per hook of each async-capable ``MiddlewareMixin``
(``process_request`` and ``process_response`` each in their own ``sync_to_async``), back to
the loop for WhiteNoise (sync only) and away again, and once more for the view. On the
two-core bench machine those crossings cost 5 ms of CPU per request, a third of a vote's.

:class:`SyncChainASGIHandler` loads the middleware as the WSGI handler does (sync, the
view called directly) and runs the whole chain with one ``sync_to_async`` call, on the
request's reused view thread (``annotator.view_threads``). The rest is Django's handler
unchanged: the event loop reads the body first, so slow clients still hold no thread,
``request_started`` and ``request_finished`` are sent as before, streamed responses
(media files) are still read in a thread, and a client that leaves mid-request still
cancels the wait for its response.
"""

from __future__ import annotations

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.http import HttpRequest, HttpResponseBase


class SyncChainASGIHandler(ASGIHandler):
    """``ASGIHandler`` whose middleware chain is the synchronous one, entered once per request."""

    def __init__(self) -> None:
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def sync_chain_application() -> SyncChainASGIHandler:
    """What ``django.core.asgi.get_asgi_application`` returns, with the one-hop handler."""
    django.setup(set_prefix=False)
    return SyncChainASGIHandler()
