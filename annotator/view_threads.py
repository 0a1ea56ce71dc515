"""The threads that run Django's views under ASGI: kept from one request to the next.

Django's ASGI handler runs each request's synchronous code (middleware, the view, the
signals) in a thread of its own: it enters asgiref's ``ThreadSensitiveContext()`` per
request, and each such context starts a fresh one-thread executor. A fresh thread has no
database connection (Django keeps them per thread), so every request paid for opening one,
and for SQLite that is the connect plus the WAL and synchronous pragmas and Django's
registration of its SQL functions: 2.3 ms on the two-core bench machine, on requests whose
queries take about as long. :class:`ViewThreads` hands each request one of a set of
long-lived one-thread executors instead, so a thread, and its connection (kept for
``CONN_MAX_AGE``, ``annotator.env``), serves request after request, as gunicorn's threaded
workers always did.

The set grows to the largest number of requests a worker has served at once and stays
there; it never makes a request wait for a thread, so a long import still runs beside the
pages' short polls as it did with a thread per request. An executor serves one request at a
time (asgiref's rule for a context's executor); one whose request was cancelled while its
view still runs takes the next request's work after that view ends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ViewThreads:
    """ASGI middleware: each HTTP request's synchronous work runs on an idle, reused thread."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.idle: list[ThreadPoolExecutor] = []
        self.started = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        executor = self.idle.pop() if self.idle else self._new_executor()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.app(scope, receive, send)
        finally:
            self.idle.append(executor)  # the event loop's one thread: no lock needed

    def _new_executor(self) -> ThreadPoolExecutor:
        self.started += 1
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"view-{self.started}")
