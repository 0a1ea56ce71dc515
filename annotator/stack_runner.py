"""Run a supervised stack from a command until Ctrl-C: the stop signal, the wait for health, the loop.

``manage.py run_stack`` (one machine, embedded Redis) and ``manage.py run_distributed``
(PostgreSQL, Redis, S3 and workers as separate services) share these, so both stop on the
same signals, call the stack healthy on the same ``/healthz``, and restart a dead child from
the same loop (:class:`annotator.supervisor.Supervisor`).
"""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from types import FrameType

from annotator.supervisor import Supervisor

READY_TIMEOUT_SECONDS = 180
POLL_SECONDS = 0.5


class NotHealthy(RuntimeError):
    """The stack did not report healthy in time."""


@dataclass
class StopRequest:
    """Set by SIGINT (Ctrl-C) or SIGTERM: the run loop ends and the supervisor stops every child."""

    requested: bool = False

    def __call__(self) -> bool:
        return self.requested

    def request(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True


def stop_on_signals() -> StopRequest:
    """A :class:`StopRequest` that SIGINT and SIGTERM set from now on."""
    stop = StopRequest()
    signal.signal(signal.SIGINT, stop.request)
    signal.signal(signal.SIGTERM, stop.request)
    return stop


def wait_until_healthy(
    url: str, stack: Supervisor, stopping: StopRequest, timeout: float = READY_TIMEOUT_SECONDS
) -> None:
    """Wait for ``url``'s ``/healthz`` to say ok; a child that dies meanwhile is restarted like later on."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline and not stopping():
        stack.poll()
        try:
            with urllib.request.urlopen(url + "healthz", timeout=5) as response:
                if json.load(response)["status"] == "ok":
                    return
        except urllib.error.HTTPError as error:
            last = error.read().decode(errors="replace")
        except OSError as error:
            last = str(error)
        time.sleep(1)
    if not stopping():
        raise NotHealthy(f"the stack did not become healthy in {timeout:.0f} s: {last}")


def supervise_until_stopped(stack: Supervisor, stopping: StopRequest) -> None:
    """Restart children that die until a stop is requested."""
    while not stopping():
        stack.poll()
        time.sleep(POLL_SECONDS)
