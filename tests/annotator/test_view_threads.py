"""ViewThreads: a request's synchronous work runs on a reused thread, never on a busy one."""

from __future__ import annotations

import asyncio
import threading

from asgiref.sync import sync_to_async

from annotator.view_threads import ViewThreads


def thread_recording_app(seen: list[str], gate: asyncio.Event | None = None):
    """An ASGI app whose synchronous part notes the thread it ran on, as Django's views do."""

    async def app(scope, receive, send) -> None:
        if gate is not None:
            await gate.wait()
        await sync_to_async(lambda: seen.append(threading.current_thread().name), thread_sensitive=True)()

    return app


def test_one_request_after_another_runs_on_the_same_thread() -> None:
    seen: list[str] = []
    app = ViewThreads(thread_recording_app(seen))

    async def requests() -> None:
        for _ in range(3):
            await app({"type": "http"}, None, None)

    asyncio.run(requests())
    assert len(seen) == 3
    assert len(set(seen)) == 1
    assert seen[0].startswith("view-1")


def test_requests_at_the_same_time_run_on_different_threads_and_the_threads_are_kept() -> None:
    seen: list[str] = []

    async def requests() -> ViewThreads:
        gate = asyncio.Event()
        app = ViewThreads(thread_recording_app(seen, gate))
        both = asyncio.gather(app({"type": "http"}, None, None), app({"type": "http"}, None, None))
        await asyncio.sleep(0)
        gate.set()
        await both
        await app({"type": "http"}, None, None)  # an idle thread of the two serves it
        return app

    app = asyncio.run(requests())
    assert len(set(seen[:2])) == 2
    assert seen[2] in seen[:2]
    assert (app.started, len(app.idle)) == (2, 2)


def test_other_scopes_pass_through() -> None:
    seen: list[str] = []

    async def lifespan(scope, receive, send) -> None:
        seen.append(scope["type"])

    asyncio.run(ViewThreads(lifespan)({"type": "lifespan"}, None, None))
    assert seen == ["lifespan"]
