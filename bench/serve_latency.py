"""Server latency of next-face and submit under concurrent simulated annotators.

Real HTTP against a real server process: gunicorn (``annotator.wsgi``, gthread workers) on
a fresh SQLite database in WAL mode, a project whose pool holds ``--pool`` faces (bulk
created rows; the image files are not written, since annotators here never fetch them) and
whose open batch holds ``--batch`` faces. Each simulated annotator is a client thread with
its own keep-alive connection and API token that loops: ``POST next-faces/`` (count 1),
then ``POST votes/`` for that face, as fast as the server answers.

Baseline, measured in the same run under the same concurrency: ``GET /api/projects/<id>/``,
an authenticated read that does the membership check and serialisation but no queue work;
the ratios show what the queue and the vote cost over the framework's floor. The client
threads share the machine's CPUs with the server, so latencies include that contention.

    python bench/serve_latency.py [--annotators 20] [--pool 100000] [--batch 5000] [--rounds 25]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from labeling_project import setup_labeling_database
from threaded_server import threaded_server

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotators", type=int, default=20)
    parser.add_argument("--pool", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=25, help="next-face + submit pairs per annotator")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker")
    return parser.parse_args()


class Annotator:
    """One simulated annotator: a keep-alive connection and a token."""

    def __init__(self, port: int, token: str, project_id: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.base = f"/api/projects/{project_id}/"

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[float, int, object]:
        """One request; a connection the server closed meanwhile is reopened (and timed)."""
        start = time.perf_counter()
        payload = None if body is None else json.dumps(body)
        for attempt in range(2):
            try:
                self.connection.request(method, self.base + path, body=payload, headers=self.headers)
                response = self.connection.getresponse()
                data = response.read()
                break
            except (ConnectionError, http.client.RemoteDisconnected):
                self.connection.close()
                if attempt:
                    raise
        elapsed = time.perf_counter() - start
        return elapsed, response.status, json.loads(data) if data else None

    def label_round(self, timings: dict[str, list[float]], errors: list[str]) -> bool:
        elapsed, status, faces = self.call("POST", "next-faces/", {"count": 1})
        timings["next-face"].append(elapsed)
        if status != 200 or not faces:
            errors.append(f"next-face {status}")
            return False
        vote = {"client_id": str(uuid.uuid4()), "face": faces[0]["face"], "kind": "label", "classes": [1]}
        elapsed, status, _ = self.call("POST", "votes/", vote)
        timings["submit"].append(elapsed)
        if status != 201:
            errors.append(f"submit {status}")
        return True

    def baseline_round(self, timings: dict[str, list[float]], errors: list[str]) -> bool:
        elapsed, status, _ = self.call("GET", "")
        timings["baseline"].append(elapsed)
        if status != 200:
            errors.append(f"baseline {status}")
        return True


def run_phase(
    annotators: list[Annotator], method: str, rounds: int
) -> tuple[dict[str, list[float]], list[str], float]:
    timings: dict[str, list[float]] = {"next-face": [], "submit": [], "baseline": []}
    errors: list[str] = []
    barrier = threading.Barrier(len(annotators))

    def work(annotator: Annotator) -> None:
        barrier.wait()
        for _ in range(rounds):
            if not getattr(annotator, method)(timings, errors):
                break

    threads = [threading.Thread(target=work, args=(a,)) for a in annotators]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return timings, errors, time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="faceloop-bench-") as scratch:
        var_dir = Path(scratch)
        started = time.perf_counter()
        project_id, tokens = setup_labeling_database(var_dir, args.pool, args.batch, args.annotators)
        print(
            f"setup: {args.pool} pool faces, batch of {args.batch}, {args.annotators} annotators "
            f"in {time.perf_counter() - started:.1f} s"
        )
        server = threaded_server(
            var_dir,
            workers=args.workers,
            threads=args.threads,
            log_level="warning",
            options=("--keep-alive", "60"),
        )
        with server as (_, port):
            annotators = [Annotator(port, token, project_id) for token in tokens]
            run_phase(annotators, "baseline_round", 2)  # warm-up: connections, worker imports
            run_phase(annotators, "label_round", 1)
            base, base_errors, _ = run_phase(annotators, "baseline_round", args.rounds)
            timings, errors, wall = run_phase(annotators, "label_round", args.rounds)
    report(args, base, timings, base_errors + errors, wall)


def report(args: argparse.Namespace, base: dict, timings: dict, errors: list[str], wall: float) -> None:
    base_p50, base_p95 = percentile(base["baseline"], 50), percentile(base["baseline"], 95)
    print(
        f"server: gunicorn gthread {args.workers} workers x {args.threads} threads, SQLite WAL; "
        f"{args.annotators} concurrent annotators, {args.rounds} rounds each"
    )
    print(
        f"{'request':<12}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'p50/base':>10}{'p95/base':>10}"
    )
    for name, values in [
        ("baseline", base["baseline"]),
        ("next-face", timings["next-face"]),
        ("submit", timings["submit"]),
    ]:
        p50, p95, p99 = percentile(values, 50), percentile(values, 95), percentile(values, 99)
        print(
            f"{name:<12}{len(values):>6}{p50 * 1e3:>10.1f}{p95 * 1e3:>10.1f}{p99 * 1e3:>10.1f}"
            f"{p50 / base_p50:>10.2f}{p95 / base_p95:>10.2f}"
        )
    pairs = len(timings["submit"])
    print(
        f"throughput: {pairs / wall:.1f} labeled faces/s ({pairs} votes in {wall:.1f} s); errors: {len(errors)}"
    )
    if errors:
        print("first errors:", errors[:5])


if __name__ == "__main__":
    main()
