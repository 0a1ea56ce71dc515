"""The supervisor restarts dead children with capped exponential backoff (fake processes, fake clock)."""

from __future__ import annotations

import logging
import signal

import pytest

from annotator.supervisor import Supervisor, describe_exit


class FakeProcess:
    """A child that is alive until the test makes it exit."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._returncode: int | None = None
        self.stopped = False

    @property
    def returncode(self) -> int | None:
        return self._returncode

    def alive(self) -> bool:
        return self._returncode is None

    def exit(self, code: int) -> None:
        self._returncode = code

    def stop(self) -> None:
        self.stopped = True


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Starter:
    """A start function that records each process it started; ``failures`` starts raise first."""

    def __init__(self, name: str, failures: int = 0) -> None:
        self.name, self.failures = name, failures
        self.started: list[FakeProcess] = []

    def __call__(self) -> FakeProcess:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("port in use")
        self.started.append(FakeProcess(self.name))
        return self.started[-1]


@pytest.fixture
def clock() -> Clock:
    return Clock()


def run_for(supervisor: Supervisor, clock: Clock, seconds: float, step: float = 0.5) -> None:
    end = clock.now + seconds
    while clock.now < end:
        clock.now += step
        supervisor.poll()


def test_a_dead_child_is_restarted_after_a_delay_that_doubles_up_to_the_cap(clock, caplog) -> None:
    supervisor = Supervisor(clock=clock, first_delay=1, max_delay=8, stable_after=60)
    redis = Starter("redis")
    supervisor.add("redis", redis)
    delays = []
    for _ in range(6):
        redis.started[-1].exit(-signal.SIGKILL)
        died_at = clock.now
        supervisor.poll()
        starts = len(redis.started)
        while len(redis.started) == starts:
            clock.now += 0.25
            supervisor.poll()
        delays.append(clock.now - died_at)
    assert delays == [1, 2, 4, 8, 8, 8]
    assert all(process.stopped for process in redis.started[:-1])
    assert not redis.started[-1].stopped
    lines = [record.getMessage() for record in caplog.records if record.name == "annotator.supervisor"]
    assert lines[:3] == [
        "redis killed by SIGKILL; restart 1 in 1 s",
        "redis killed by SIGKILL; restart 2 in 2 s",
        "redis killed by SIGKILL; restart 3 in 4 s",
    ]
    assert len(lines) == 6


def test_the_delay_resets_once_a_child_stayed_up_long_enough(clock, caplog) -> None:
    supervisor = Supervisor(clock=clock, first_delay=1, max_delay=30, stable_after=60)
    worker = Starter("worker")
    supervisor.add("worker", worker)
    for _ in range(3):
        worker.started[-1].exit(1)
        run_for(supervisor, clock, 10)
    run_for(supervisor, clock, 50)  # up 56 s since its third restart: not yet stable
    worker.started[-1].exit(1)
    supervisor.poll()
    assert caplog.records[-1].getMessage() == "worker exited with code 1; restart 4 in 8 s"

    run_for(supervisor, clock, 8 + 61)  # back up, then up for longer than stable_after
    worker.started[-1].exit(1)
    supervisor.poll()
    assert caplog.records[-1].getMessage() == "worker exited with code 1; restart 1 in 1 s"


def test_only_the_dead_child_is_restarted(clock) -> None:
    supervisor = Supervisor(clock=clock)
    redis, web = Starter("redis"), Starter("web")
    supervisor.add("redis", redis)
    supervisor.add("web", web)
    web.started[0].exit(-signal.SIGTERM)
    run_for(supervisor, clock, 5)
    assert len(redis.started) == 1 and not redis.started[0].stopped
    assert len(web.started) == 2


def test_a_start_that_fails_counts_as_another_failure_and_is_retried(clock, caplog) -> None:
    supervisor = Supervisor(clock=clock, first_delay=1, max_delay=30)
    web = Starter("web")
    supervisor.add("web", web)
    web.failures = 2
    web.started[0].exit(3)
    run_for(supervisor, clock, 0.5 + 1 + 2 + 4)
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "web exited with code 3; restart 1 in 1 s",
        "web failed to start (port in use); restart 2 in 2 s",
        "web failed to start (port in use); restart 3 in 4 s",
    ]
    assert len(web.started) == 2 and web.started[1].alive()


def test_no_restart_and_no_log_line_while_every_child_is_alive(clock, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    supervisor = Supervisor(clock=clock)
    worker = Starter("worker")
    supervisor.add("worker", worker)
    run_for(supervisor, clock, 120)
    assert len(worker.started) == 1
    assert caplog.records == []


def test_stop_all_stops_children_in_reverse_start_order(clock) -> None:
    stopped: list[str] = []
    supervisor = Supervisor(clock=clock)
    for name in ("redis", "worker", "web"):
        process = supervisor.add(name, Starter(name))
        process.stop = lambda name=name: stopped.append(name)  # type: ignore[method-assign]
    with supervisor:
        pass
    assert stopped == ["web", "worker", "redis"]


def test_describe_exit_names_the_signal_or_the_code() -> None:
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(2) == "exited with code 2"
    assert describe_exit(-200) == "killed by signal 200"
