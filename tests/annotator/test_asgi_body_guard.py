"""``annotator.asgi.RequestBodyGuard``: size and minimum-rate rules before Django reads a body.

In-process, with ASGI messages: an inner app that reads the whole body the way Django's
ASGI handler does, and a client whose chunks arrive when the test says.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from annotator.asgi import RequestBodyGuard


class BodyReadingApp:
    """Reads the body to its end like Django's handler; stops at a disconnect, answers 200 otherwise."""

    def __init__(self) -> None:
        self.called = False
        self.body = b""
        self.disconnected = False

    async def __call__(self, scope, receive, send) -> None:
        self.called = True
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.disconnected = True
                return
            self.body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def scope(content_type: bytes, length: int | None) -> dict:
    headers = [(b"content-type", content_type)]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return {"type": "http", "method": "POST", "path": "/api/x/", "headers": headers}


def serve(app, request_scope: dict, chunks: list[tuple[float, bytes]]) -> list[dict]:
    """Run the guarded app; each chunk arrives after its delay in seconds. Returns what was sent."""
    sent: list[dict] = []
    pending = list(chunks)

    async def receive() -> dict:
        if not pending:
            await asyncio.sleep(3600)  # the client sends nothing more
        delay, body = pending.pop(0)
        await asyncio.sleep(delay)
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(asyncio.wait_for(RequestBodyGuard(app)(request_scope, receive, send), 10))
    return sent


def answer(sent: list[dict]) -> tuple[int, dict]:
    body = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body) if sent[0]["status"] != 200 else {"body": body.decode()}


@pytest.fixture(autouse=True)
def limits(settings) -> None:
    settings.FACELOOP_MAX_UPLOAD_BYTES = 1000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    settings.FACELOOP_BODY_TIMEOUT_SECONDS = 0.3
    settings.FACELOOP_BODY_MIN_RATE = 1000


def test_a_declared_length_over_the_limit_is_answered_413_before_the_app_runs() -> None:
    app = BodyReadingApp()
    sent = serve(app, scope(b"multipart/form-data; boundary=x", 1001), [(0, b"x" * 10)])

    assert answer(sent) == (
        413,
        {"code": "too_large", "detail": "the upload is 1001 bytes, more than the limit of 1000"},
    )
    assert (b"connection", b"close") in sent[0]["headers"]
    assert app.called is False


def test_json_bodies_have_the_smaller_limit_and_uploads_the_larger() -> None:
    status, payload = answer(serve(BodyReadingApp(), scope(b"application/json", 101), []))
    assert (status, payload["detail"]) == (413, "the request body is 101 bytes, more than the limit of 100")
    app = BodyReadingApp()
    sent = serve(app, scope(b"multipart/form-data; boundary=x", 1000), [(0, b"x" * 600), (0, b"y" * 400)])
    assert answer(sent) == (200, {"body": "ok"})
    assert app.body == b"x" * 600 + b"y" * 400


def test_a_chunked_body_is_cut_off_at_the_limit() -> None:
    app = BodyReadingApp()
    sent = serve(app, scope(b"application/json", None), [(0, b"x" * 60), (0, b"x" * 60), (0, b"}")])

    assert answer(sent) == (
        413,
        {"code": "too_large", "detail": "the request body is more than the limit of 100 bytes"},
    )
    assert app.disconnected is True


def test_a_body_that_trickles_slower_than_the_minimum_rate_gets_408() -> None:
    app = BodyReadingApp()
    trickle = [(0.1, b"x")] * 20  # 10 bytes/s, announced as 20 bytes

    sent = serve(app, scope(b"multipart/form-data; boundary=x", 20), trickle)

    assert answer(sent) == (
        408,
        {"code": "body_timeout", "detail": "the request body arrived slower than 1000 bytes/s"},
    )
    assert app.disconnected is True
    assert len(app.body) < 5


def test_a_slow_body_that_keeps_the_minimum_rate_gets_through() -> None:
    """0.3 s, plus 1 s per 1000 bytes: 250 bytes every 0.2 s (1250 bytes/s) is never cut off."""
    app = BodyReadingApp()
    chunks = [(0.2, b"x" * 250)] * 4

    sent = serve(app, scope(b"multipart/form-data; boundary=x", 1000), chunks)

    assert answer(sent) == (200, {"body": "ok"})
    assert app.body == b"x" * 1000


def test_what_is_not_http_passes_through_untouched() -> None:
    seen = []

    async def lifespan_app(scope, receive, send) -> None:
        seen.append(scope["type"])

    asyncio.run(RequestBodyGuard(lifespan_app)({"type": "lifespan"}, None, None))
    assert seen == ["lifespan"]


def test_django_spools_a_large_body_to_disk_before_the_view_runs(settings) -> None:
    """What the server holds of an upload while it arrives: at most FILE_UPLOAD_MAX_MEMORY_SIZE."""
    from annotator.asgi import application

    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024
    chunks = [b"x" * 1000, b"y" * 1000]

    async def receive() -> dict:
        return {"type": "http.request", "body": chunks.pop(0), "more_body": bool(chunks)}

    body = asyncio.run(application.app.app.read_body(receive))  # the guard, the view threads, Django
    try:
        assert body._rolled is True  # a file on disk, not bytes in memory
        assert body.read() == b"x" * 1000 + b"y" * 1000
    finally:
        body.close()
