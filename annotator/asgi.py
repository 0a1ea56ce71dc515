"""ASGI entry point: the server's event loop reads request bodies, so slow clients hold no thread.

gunicorn runs uvicorn workers (``annotator.processes.start_web``). Django's ASGI handler reads
a request's whole body on the event loop, spooled to disk past ``FILE_UPLOAD_MAX_MEMORY_SIZE``,
before it hands the request to a view thread; a client that trickles a 100 MB body costs a
socket and a spool file, not one of a fixed few threads, and ``/healthz`` and sign-ins keep
being answered. The middleware and the view then run in one hop to a thread
(``annotator.sync_chain``), on threads kept from request to request (``annotator.view_threads``),
so each keeps its database connection.

Because the body is read before any Django middleware runs, :class:`RequestBodyGuard` checks
it here, in front of Django: a declared ``Content-Length`` over the limit gets its 413 before
a byte is read (``annotator.request_limits`` keeps the same limits under WSGI), a chunked
body is cut off at the limit, and a body that arrives slower than a minimum rate gets a 408
(the rule of Apache's mod_reqtimeout, ``body=20,MinRate=500``: 20 s, plus 1 s for each 500
bytes received), so a client that trickles forever does not keep a connection and a spool
file forever.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import warnings
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings

from annotator.sync_chain import sync_chain_application
from annotator.view_threads import ViewThreads

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotator.settings")
# WhiteNoise's static files and /media/'s FileResponse iterate files synchronously; Django's
# ASGI handler reads them in a thread, as it should, but warns on every such response.
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous iterators")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def body_limit(headers: dict[bytes, bytes]) -> int:
    """The largest body this request may carry: an upload's, or that of a JSON or form body."""
    if headers.get(b"content-type", b"").lower().startswith(b"multipart/form-data"):
        return settings.FACELOOP_MAX_UPLOAD_BYTES
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def declared_length(headers: dict[bytes, bytes]) -> int:
    try:
        return max(0, int(headers.get(b"content-length", b"0")))
    except ValueError:
        return 0


class BodyRefused(Exception):
    """The body broke a rule; ``status`` and ``detail`` are the answer the client gets."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


class BodyReader:
    """The app's ``receive``: passes body chunks on while they stay under the size and rate rules.

    On a broken rule it records why and tells the app the client left (``http.disconnect``),
    which makes Django drop the request without running a view.
    """

    def __init__(self, receive: Receive, limit: int, timeout: float, min_rate: float) -> None:
        self._receive, self.limit, self.min_rate = receive, limit, min_rate
        self.received = 0
        self.complete = False
        self.refused: BodyRefused | None = None
        self._deadline = time.monotonic() + timeout

    async def __call__(self) -> Message:
        if self.complete:
            return await self._receive()
        if self.refused is not None:
            return {"type": "http.disconnect"}
        try:
            message = await asyncio.wait_for(self._receive(), max(0.0, self._deadline - time.monotonic()))
        except TimeoutError:
            return self._refuse(
                408, "body_timeout", f"the request body arrived slower than {self.min_rate:.0f} bytes/s"
            )
        if message["type"] != "http.request":
            return message
        chunk = len(message.get("body", b""))
        self.received += chunk
        self._deadline += chunk / self.min_rate
        if self.received > self.limit:
            return self._refuse(
                413, "too_large", f"the request body is more than the limit of {self.limit} bytes"
            )
        self.complete = not message.get("more_body", False)
        return message

    def _refuse(self, status: int, code: str, detail: str) -> Message:
        self.refused = BodyRefused(status, code, detail)
        return {"type": "http.disconnect"}


async def respond(send: Send, status: int, payload: dict[str, str]) -> None:
    """A JSON answer that closes the connection (the rest of the body is never read)."""
    body = json.dumps(payload).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestBodyGuard:
    """ASGI middleware: size and minimum-rate rules on request bodies, before Django reads them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.lower(): value for name, value in scope["headers"]}
        limit, length = body_limit(headers), declared_length(headers)
        if length > limit:
            kind = "upload" if limit == settings.FACELOOP_MAX_UPLOAD_BYTES else "request body"
            detail = f"the {kind} is {length} bytes, more than the limit of {limit}"
            await respond(send, 413, {"code": "too_large", "detail": detail})
            return
        reader = BodyReader(
            receive, limit, settings.FACELOOP_BODY_TIMEOUT_SECONDS, settings.FACELOOP_BODY_MIN_RATE
        )
        await self.app(scope, reader, send)
        if reader.refused is not None:
            refused = reader.refused
            await respond(send, refused.status, {"code": refused.code, "detail": refused.detail})


application = RequestBodyGuard(ViewThreads(sync_chain_application()))
