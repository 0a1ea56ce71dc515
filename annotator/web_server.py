"""The web server's worker class: uvicorn in gunicorn, with a time limit on request headers.

gunicorn manages the processes (restarts a worker that dies, graceful reloads) and uvicorn
serves each one on an event loop (``annotator.asgi``). uvicorn has a keep-alive timeout but
no limit on how long a request's headers may take: a client that sends one header byte every
few seconds would keep its connection forever. :class:`HeaderTimeoutH11Protocol` closes a
connection whose next request's headers are not complete ``FACELOOP_HEADER_TIMEOUT_SECONDS``
after the connection opened or the previous response ended (nginx's
``client_header_timeout``); the body's own rule is in ``annotator.asgi``.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from django.conf import settings
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn_worker import UvicornWorker as BaseUvicornWorker


class HeaderTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request headers come too slowly."""

    _header_timer: asyncio.TimerHandle | None = None
    _timed_cycle: object = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None and self.cycle is not self._timed_cycle:
            self._timed_cycle = self.cycle  # a new request's headers arrived whole
            self._cancel_header_timer()

    def on_response_complete(self) -> None:
        self._arm_header_timer()  # before super(), which may start a pipelined request
        super().on_response_complete()

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(
            settings.FACELOOP_HEADER_TIMEOUT_SECONDS, self._header_timeout
        )

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


class UvicornWorker(BaseUvicornWorker):
    """gunicorn's worker class for FaceLoop: asyncio's loop and the protocol above.

    No ASGI lifespan: Django has no start-up or shut-down hooks to run there.
    """

    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {
        "loop": "asyncio",
        "http": HeaderTimeoutH11Protocol,
        "lifespan": "off",
    }
