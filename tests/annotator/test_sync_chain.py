"""The ASGI handler runs Django's middleware as one synchronous chain, every middleware still applied."""

from __future__ import annotations

import asyncio
import inspect

import pytest
from asgiref.testing import ApplicationCommunicator

from annotator.sync_chain import SyncChainASGIHandler


async def call(app, method: str, path: str, body: bytes = b"") -> tuple[int, dict[bytes, bytes], bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/x-www-form-urlencoded")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    communicator = ApplicationCommunicator(app, scope)
    await communicator.send_input({"type": "http.request", "body": body})
    start = await communicator.receive_output(timeout=30)
    content = b""
    while True:
        message = await communicator.receive_output(timeout=30)
        content += message.get("body", b"")
        if not message.get("more_body", False):
            break
    await communicator.wait(timeout=30)
    return start["status"], {name.lower(): value for name, value in start["headers"]}, content


def test_the_chain_is_loaded_synchronously() -> None:
    handler = SyncChainASGIHandler()
    assert not inspect.iscoroutinefunction(handler._middleware_chain)
    assert not asyncio.iscoroutinefunction(handler._middleware_chain)


@pytest.mark.django_db(transaction=True)
def test_a_page_gets_every_middlewares_headers_and_cookies() -> None:
    status, headers, body = asyncio.run(call(SyncChainASGIHandler(), "GET", "/accounts/login/"))
    assert status == 200
    assert b"content-security-policy" in headers  # django-csp
    assert headers[b"x-frame-options"] == b"DENY"  # clickjacking
    assert headers[b"x-content-type-options"] == b"nosniff"  # security
    assert b"csrftoken" in headers.get(b"set-cookie", b"") or b"csrfmiddlewaretoken" in body


@pytest.mark.django_db(transaction=True)
def test_a_form_post_without_its_csrf_token_is_refused() -> None:
    status, _, _ = asyncio.run(
        call(SyncChainASGIHandler(), "POST", "/accounts/login/", b"username=a&password=b")
    )
    assert status == 403
