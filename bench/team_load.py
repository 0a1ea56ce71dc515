"""The web tier under a team's load: labelers at a human pace, the saturation point, 2 processes against 1.

Real HTTP against the web server exactly as ``make run`` starts it (``annotator.processes.
web_command``: gunicorn with uvicorn workers on ``annotator.asgi``, the same settings) on a
SQLite database in WAL mode whose project has ``--pool`` faces, all in one open batch (rows
only: nobody fetches the images here). Every simulated labeler is a thread with its own
keep-alive connection and API token. Three measurements, each on a fresh copy of the same
database so that each starts from the same queue:

1. team: ``--labelers`` people at a human pace, each looping ``POST next-faces/`` (one face),
   1 to 2 s of looking at it (uniformly random), ``POST votes/``; for ``--team-seconds``.
   Prints next-faces and vote p50/p95/p99 and the votes per second the team achieved.
2. saturation: ``--clients`` clients looping next-face and vote without pause, against the
   deployed two web processes; the votes per second they reach is the tier's capacity.
3. the same with one web process, printed as the ratio 2 processes / 1.

The vote throttle (``FACELOOP_THROTTLE_VOTES``, 300/minute per person) is raised to a rate no
client reaches, so it keeps counting every vote (its cost is measured) but refuses none: the
saturation clients vote faster than a person may. The clients run on the same machine as the
server and share its CPUs, so the capacity printed is a floor; ``uptime``'s load average at
the start is printed, since other work on the machine lowers every figure.

``--repo`` serves another checkout's code (for instance ``git archive main``) with this same
client, so figures before and after a change are measured the same way.

    python bench/team_load.py [--labelers 50] [--clients 8] [--team-seconds 40] [--repo PATH]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from labeling_project import setup_labeling_database

REPO = Path(__file__).resolve().parents[1]
THROTTLE_NOBODY_REACHES = "1000000/minute"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labelers", type=int, default=50, help="people at a human pace")
    parser.add_argument("--team-seconds", type=float, default=40.0)
    parser.add_argument("--clients", type=int, default=8, help="clients without pause (saturation)")
    parser.add_argument("--saturation-seconds", type=float, default=20.0)
    parser.add_argument("--pool", type=int, default=20_000, help="faces in the project")
    parser.add_argument("--batch", type=int, default=10_000, help="faces in the open batch (at most 10,000)")
    parser.add_argument("--think", type=float, nargs=2, default=(1.0, 2.0), metavar=("MIN", "MAX"))
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout whose code is served")
    return parser.parse_args()


@dataclass
class Tally:
    """Request times (seconds) by endpoint, votes counted, and failures, shared by the client threads."""

    times: dict[str, list[float]] = field(default_factory=lambda: {"next-faces": [], "vote": []})
    votes: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, endpoint: str, seconds: float, ok: bool, status: int) -> None:
        with self.lock:
            self.times[endpoint].append(seconds)
            if not ok:
                self.errors.append(f"{endpoint} {status}")
            elif endpoint == "vote":
                self.votes += 1


class Labeler:
    """One simulated person: a keep-alive connection, a token, and their own random think times."""

    def __init__(self, port: int, token: str, project_id: int, rng: random.Random) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.base = f"/api/projects/{project_id}/"
        self.rng = rng

    def post(self, path: str, body: dict) -> tuple[float, int, object]:
        """One request; a connection the server closed meanwhile is reopened (and timed)."""
        started = time.perf_counter()
        for attempt in range(2):
            try:
                self.connection.request("POST", self.base + path, body=json.dumps(body), headers=self.headers)
                response = self.connection.getresponse()
                data = response.read()
                break
            except (ConnectionError, http.client.RemoteDisconnected):
                self.connection.close()
                if attempt:
                    raise
        return time.perf_counter() - started, response.status, json.loads(data) if data else None

    def work(self, tally: Tally, stop: float, think: tuple[float, float] | None) -> None:
        """Label until ``stop`` (a ``time.monotonic`` instant); a person starts within their first think time."""
        if think is not None:
            time.sleep(self.rng.uniform(0, think[1]))
        while time.monotonic() < stop:
            seconds, status, faces = self.post("next-faces/", {"count": 1})
            tally.add("next-faces", seconds, status == 200, status)
            if status != 200 or not faces:
                time.sleep(0.5)
                continue
            if think is not None:
                time.sleep(self.rng.uniform(*think))
            vote = {"client_id": str(uuid.uuid4()), "face": faces[0]["face"], "kind": "label", "classes": [1]}
            seconds, status, _ = self.post("votes/", vote)
            tally.add("vote", seconds, status == 201, status)

    def close(self) -> None:
        self.connection.close()


def run_clients(
    port: int, project_id: int, tokens: list[str], seconds: float, think: tuple[float, float] | None
) -> tuple[Tally, float]:
    """Each token's labeler loops next-face, think (``None``: not at all), vote until ``seconds`` pass."""
    tally = Tally()
    stop = time.monotonic() + seconds
    labelers = [Labeler(port, token, project_id, random.Random(i)) for i, token in enumerate(tokens)]
    threads = [threading.Thread(target=labeler.work, args=(tally, stop, think)) for labeler in labelers]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for labeler in labelers:
        labeler.close()
    return tally, time.perf_counter() - started


def serve(repo: Path, var_dir: Path, workers: int) -> tuple[subprocess.Popen, int]:
    """The web server as ``make run`` starts it, from ``repo``'s code, on ``var_dir``'s database."""
    from annotator import processes

    port = processes.free_port()
    env = {
        **os.environ,
        "FACELOOP_VAR_DIR": str(var_dir),
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "FACELOOP_THROTTLE_VOTES": THROTTLE_NOBODY_REACHES,
    }
    log = open(var_dir / "web.log", "ab")  # noqa: SIM115 - the child owns it
    try:
        command = processes.web_command("127.0.0.1", port, workers)
        server = subprocess.Popen(command, cwd=repo, env=env, stdout=log, stderr=subprocess.STDOUT)
    finally:
        log.close()
    from threaded_server import accepts

    try:
        processes.wait_until(lambda: accepts(port), 120, "the web server to accept connections")
    except TimeoutError:
        server.kill()
        raise
    return server, port


def measure(
    args: argparse.Namespace,
    template: Path,
    scratch: Path,
    name: str,
    workers: int,
    clients: int,
    seconds: float,
    think: tuple[float, float] | None,
    setup: tuple[int, list[str]],
) -> tuple[Tally, float]:
    """Serve a fresh copy of the template database with ``workers`` processes and run the clients."""
    var_dir = scratch / name
    shutil.copytree(template, var_dir)
    project_id, tokens = setup
    server, port = serve(args.repo, var_dir, workers)
    try:
        run_clients(port, project_id, tokens[:clients], 2.0, None)  # warm-up: imports, connections
        return run_clients(port, project_id, tokens[:clients], seconds, think)
    finally:
        server.terminate()
        server.wait(timeout=30)


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def latency_line(name: str, values: list[float]) -> str:
    p50, p95, p99 = (percentile(values, q) * 1e3 for q in (50, 95, 99))
    return f"  {name:<11}{len(values):>7}{p50:>9.1f}{p95:>9.1f}{p99:>9.1f}"


def main() -> None:
    args = parse_args()
    sys.path.insert(0, str(args.repo.resolve()))
    sys.path.insert(1, str(Path(__file__).resolve().parent))
    load = os.getloadavg()
    print(
        f"code served: {args.repo.resolve()}; load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory(prefix="faceloop-team-") as scratch_name:
        scratch = Path(scratch_name)
        template = scratch / "template"
        started = time.perf_counter()
        setup = setup_labeling_database(template, args.pool, args.batch, max(args.labelers, args.clients))
        print(
            f"setup: {args.pool} faces, {args.batch} in the open batch, {args.labelers} labelers in {time.perf_counter() - started:.1f} s"
        )
        think = (args.think[0], args.think[1])
        team, team_wall = measure(
            args, template, scratch, "team", 2, args.labelers, args.team_seconds, think, setup
        )
        two, two_wall = measure(
            args, template, scratch, "two", 2, args.clients, args.saturation_seconds, None, setup
        )
        one, one_wall = measure(
            args, template, scratch, "one", 1, args.clients, args.saturation_seconds, None, setup
        )
    report(args, team, team_wall, (two, two_wall), (one, one_wall))


def report(
    args: argparse.Namespace,
    team: Tally,
    team_wall: float,
    two: tuple[Tally, float],
    one: tuple[Tally, float],
) -> None:
    print(
        f"team: {args.labelers} labelers, {args.think[0]:g}-{args.think[1]:g} s per face, {args.team_seconds:g} s, 2 web processes"
    )
    print(f"  {'request':<11}{'n':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    print(latency_line("next-faces", team.times["next-faces"]))
    print(latency_line("vote", team.times["vote"]))
    print(f"  achieved {team.votes / team_wall:.1f} votes/s; errors {len(team.errors)} {team.errors[:3]}")
    rates = {}
    for name, (tally, wall) in (("2 processes", two), ("1 process", one)):
        rates[name] = tally.votes / wall
        print(
            f"saturation, {name}: {args.clients} clients without pause: {rates[name]:.1f} votes/s; "
            f"next-faces p50/p95 {percentile(tally.times['next-faces'], 50) * 1e3:.0f}/"
            f"{percentile(tally.times['next-faces'], 95) * 1e3:.0f} ms; errors {len(tally.errors)} {tally.errors[:3]}"
        )
    print(f"2 processes / 1 process: {rates['2 processes'] / rates['1 process']:.2f}x votes/s")


if __name__ == "__main__":
    main()
