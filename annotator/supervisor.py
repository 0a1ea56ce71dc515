"""Keep the stack's children running: restart any that dies, with capped exponential backoff.

``make run`` starts Redis, the Celery workers and the web server as children of one command.
A child that dies (a crash, the OOM killer, a stray ``kill``) is started again by the function
that started it the first time, after a delay that doubles with each restart in a row (1 s,
2 s, 4 s ... capped at 30 s), so a child that cannot start does not spin, and resets once it
has stayed up for a while (60 s), so a crash next week waits 1 s again. Each restart is one
log line naming the child, how it ended, the attempt and the delay: what a person reading the
log needs, the way systemd's ``Restart=`` and supervisord report it.

The supervisor never sleeps or reads the time itself: :meth:`Supervisor.poll` is called in
the run loop, and the clock is injected, so tests drive it with fake processes and a fake clock.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

logger = logging.getLogger(__name__)

FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 30.0
STABLE_AFTER_SECONDS = 60.0


class Process(Protocol):
    """What the supervisor needs of a child (``processes.ManagedProcess`` is one)."""

    name: str

    def alive(self) -> bool: ...

    @property
    def returncode(self) -> int | None: ...

    def stop(self) -> None: ...


def describe_exit(returncode: int | None) -> str:
    """``exited with code 1`` or ``killed by SIGKILL`` (Popen gives a signal as a negative code)."""
    if returncode is not None and returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


@dataclass
class Child:
    """One supervised child: how to start it, the running process, and its restart state."""

    name: str
    start: Callable[[], Process]
    process: Process | None = None
    started_at: float = 0.0
    restarts_in_a_row: int = 0
    restart_at: float | None = None
    restarts: int = 0


@dataclass
class Supervisor(AbstractContextManager["Supervisor"]):
    """Children started by their start functions and restarted by :meth:`poll` when they die."""

    clock: Callable[[], float] = time.monotonic
    first_delay: float = FIRST_DELAY_SECONDS
    max_delay: float = MAX_DELAY_SECONDS
    stable_after: float = STABLE_AFTER_SECONDS
    children: list[Child] = field(default_factory=list)

    def add(self, name: str, start: Callable[[], Process]) -> Process:
        """Start a child now; a failure to start the first time is raised (a setup error)."""
        child = Child(name, start)
        child.process, child.started_at = start(), self.clock()
        self.children.append(child)
        return child.process

    def delay(self, restarts_in_a_row: int) -> float:
        return min(self.max_delay, self.first_delay * 2**restarts_in_a_row)

    def poll(self) -> None:
        """Schedule a restart for each child that died, and restart those whose delay is over."""
        now = self.clock()
        for child in self.children:
            if child.restart_at is None:
                self._check(child, now)
            elif now >= child.restart_at:
                self._restart(child, now)

    def _check(self, child: Child, now: float) -> None:
        process = child.process
        assert process is not None
        if process.alive():
            if child.restarts_in_a_row and now - child.started_at >= self.stable_after:
                child.restarts_in_a_row = 0
            return
        # Reap what the dead child left in its process group (Celery's orphaned pool children).
        process.stop()
        self._schedule(child, now, describe_exit(process.returncode))

    def _schedule(self, child: Child, now: float, how: str) -> None:
        delay = self.delay(child.restarts_in_a_row)
        child.restarts_in_a_row += 1
        child.restart_at = now + delay
        logger.warning("%s %s; restart %d in %.0f s", child.name, how, child.restarts_in_a_row, delay)

    def _restart(self, child: Child, now: float) -> None:
        child.restart_at = None
        try:
            child.process = child.start()
        except Exception as error:  # a start that fails is one more failure, retried later
            self._schedule(child, self.clock(), f"failed to start ({error})")
            return
        child.started_at = self.clock()
        child.restarts += 1

    def stop_all(self) -> None:
        """Stop every child, in reverse start order (the web server before the workers and Redis)."""
        for child in reversed(self.children):
            if child.process is not None:
                child.process.stop()

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()
