"""Face browser latency on a 100,000-face project: a filtered page of 100 faces and a similar-faces query.

Real HTTP against a real server process: gunicorn (``annotator.wsgi``, gthread) on a fresh
SQLite database, a project whose ``--faces`` faces are bulk-created rows with a spread of
votes, labels, reviews, exclusions and model guesses (seeded), and a faiss index of
``--dim``-dimensional embeddings registered as the project's pre-training output, as the
pre-training job writes it. One client with a keep-alive connection and an API token sends,
round after round, one request of each kind:

* baseline: ``GET /api/projects/<id>/``, a trivial authenticated read (membership check and
  one serialised row), the framework's floor;
* page: ``GET .../faces/`` with one of several filter and sort combinations, 100 faces, and
  every third round the next page by its cursor (keyset pagination);
* similar: ``GET .../faces/<id>/similar/?k=12`` for a random face.

The first similar query loads the index into the worker (reported apart, not timed with the
rest). Ratios are p50 and p95 over the baseline's p50 and p95 in the same run; the goal is
under 3x for a page and under 2x for similar faces.

    python bench/browse_latency.py [--faces 100000] [--dim 512] [--rounds 200]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threaded_server import threaded_server

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

K = 12
FILTERS = [
    "state=labeled&label=3",
    "split=pool&share_max=0.6&sort=share",
    "disagrees=true&sort=-confidence",
    "state=unlabeled&sort=-id",
    "predicted=2&confidence_min=0.8",
    "state=reviewed",
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512, help="embedding size (a ResNet-18 backbone's is 512)")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--threads", type=int, default=4, help="threads of the one gunicorn worker")
    return parser.parse_args()


def setup_database(var_dir: Path, faces: int, dim: int) -> tuple[int, str, list[int]]:
    """Migrate a fresh database; create the project, its faces with their states, and its index."""
    os.environ["FACELOOP_VAR_DIR"] = str(var_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotator.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from annotator.ml_bridge.similar import write_index_face_ids
    from annotator.models import Face, Job, JobKind, JobState, Split
    from annotator.services import projects
    from ml_engine.index import EmbeddingIndex

    call_command("migrate", verbosity=0)
    owner = get_user_model().objects.create_user("owner", password="owner-pass")
    names = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
    project = projects.create_project(
        owner,
        name="browse",
        classes=projects.default_class_specs(names),
        budget_votes=10 * faces,
        ssl_method="none",
        initial_selection="random",
    )
    rng = np.random.default_rng(0)
    chunk = 10_000
    for start in range(0, faces, chunk):
        rows = []
        for i in range(start, min(start + chunk, faces)):
            voted = rng.random() < 0.6
            votes = int(rng.integers(1, 6)) if voted else 0
            share = float(rng.choice([1.0, 0.8, 0.6, 0.5, 0.4])) if voted else None
            label = int(rng.integers(0, 8)) if voted and share > 0.5 else None
            scored = rng.random() < 0.9
            rows.append(
                Face(
                    project=project,
                    image=f"bench/{i}.png",
                    sha256=f"{i:064x}",
                    width=48,
                    height=48,
                    split=Split.TEST if i % 20 == 0 else Split.POOL,
                    vote_count=votes,
                    top_vote_share=share,
                    label_index=label,
                    reviewed_label=int(rng.integers(0, 8)) if voted and rng.random() < 0.02 else None,
                    excluded=bool(rng.random() < 0.01),
                    predicted_class=int(rng.integers(0, 8)) if scored else None,
                    predicted_confidence=round(float(rng.beta(5, 2)), 4) if scored else None,
                )
            )
        Face.objects.bulk_create(rows)
    ids = list(
        Face.objects.filter(project=project, split=Split.POOL).order_by("id").values_list("id", flat=True)
    )
    folder = Path(settings.MEDIA_ROOT) / "projects" / str(project.pk) / "models" / "job-bench"
    folder.mkdir(parents=True, exist_ok=True)
    vectors = embeddings(rng, len(ids), dim)
    index = EmbeddingIndex.build(vectors, use_gpu=False).save(folder / "index.faiss")
    face_ids = write_index_face_ids(folder, [str(i) for i in ids])
    media = Path(settings.MEDIA_ROOT)
    Job.objects.create(
        project=project,
        kind=JobKind.PRETRAIN,
        state=JobState.SUCCEEDED,
        result={"index": str(index.relative_to(media)), "item_ids": str(face_ids.relative_to(media))},
    )
    return project.pk, Token.objects.create(user=owner).key, ids


def embeddings(rng: np.random.Generator, count: int, dim: int) -> np.ndarray:
    """Embeddings shaped like an SSL backbone's: clusters on a low-dimensional subspace, plus noise.

    Pure Gaussian vectors would make every face equally far from every other, which neither
    real embeddings nor a similar-faces page look like.
    """
    latent_dim, clusters = 32, 100
    centers = rng.standard_normal((clusters, latent_dim))
    latent = centers[rng.integers(0, clusters, count)] + 0.5 * rng.standard_normal((count, latent_dim))
    mixing = rng.standard_normal((latent_dim, dim)) / np.sqrt(latent_dim)
    return (latent @ mixing + 0.05 * rng.standard_normal((count, dim))).astype(np.float32)


def recall(var_dir: Path, project_id: int, answers: list[tuple[int, list[int]]], k: int) -> float:
    """Share of the exact ``k`` nearest faces that the similar-faces answers held."""
    from annotator.models import Project
    from annotator.selectors.model_versions import pool_index
    from ml_engine.index import EmbeddingIndex

    index_path, ids_path = pool_index(Project.objects.get(pk=project_id))
    index, face_ids = EmbeddingIndex.load(index_path, use_gpu=False), np.load(ids_path)
    row_of = {int(face): row for row, face in enumerate(face_ids.tolist())}
    found = 0
    for face, returned in answers:
        _, rows = index.neighbours_of(np.asarray([row_of[face]]), k)
        found += len(set(face_ids[rows[0]].tolist()) & set(returned))
    return found / (k * len(answers))


class Client:
    def __init__(self, port: int, token: str, project_id: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Authorization": f"Token {token}"}
        self.base = f"/api/projects/{project_id}/"

    def get(self, path: str) -> tuple[float, dict]:
        start = time.perf_counter()
        self.connection.request("GET", self.base + path, headers=self.headers)
        response = self.connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - start
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {body[:300]!r}")
        return elapsed, json.loads(body)


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def measure(
    client: Client, ids: list[int], rounds: int
) -> tuple[dict[str, list[float]], dict[str, int], list[tuple[int, list[int]]]]:
    timings: dict[str, list[float]] = {"baseline": [], "page": [], "similar": []}
    answers: list[tuple[int, list[int]]] = []
    sizes: dict[str, float] = {"page faces": 0, "similar faces": 0}
    picker = random.Random(1)
    cursor: dict[str, str | None] = {}
    for round_number in range(rounds):
        timings["baseline"].append(client.get("")[0])
        query = FILTERS[round_number % len(FILTERS)]
        after = cursor.get(query) if round_number % 3 == 2 else None
        elapsed, page = client.get(f"faces/?{query}&limit=100" + (f"&after={after}" if after else ""))
        timings["page"].append(elapsed)
        cursor[query] = page["next"]
        sizes["page faces"] += len(page["results"])
        picked = picker.choice(ids)
        elapsed, similar = client.get(f"faces/{picked}/similar/?k={K}")
        timings["similar"].append(elapsed)
        sizes["similar faces"] += len(similar["faces"])
        answers.append((picked, [face["face"] for face in similar["faces"]]))
    return timings, sizes, answers


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="faceloop-bench-") as scratch:
        var_dir = Path(scratch)
        started = time.perf_counter()
        project_id, token, ids = setup_database(var_dir, args.faces, args.dim)
        print(
            f"setup: {args.faces} faces, {len(ids)} indexed ({args.dim}-d) in {time.perf_counter() - started:.1f} s"
        )
        options = ("--keep-alive", "60", "--timeout", "120")
        server = threaded_server(
            var_dir, workers=1, threads=args.threads, log_level="warning", options=options
        )
        with server as (_, port):
            client = Client(port, token, project_id)
            for _ in range(5):
                client.get("")
            cold, _ = client.get(f"faces/{ids[0]}/similar/?k={K}")
            print(f"first similar-faces query (loads the index into the worker): {cold * 1e3:.0f} ms")
            measure(client, ids, 10)  # warm-up
            timings, sizes, answers = measure(client, ids, args.rounds)
        sizes["recall"] = recall(var_dir, project_id, answers[:100], K)
    report(args, timings, sizes)


def report(args: argparse.Namespace, timings: dict[str, list[float]], sizes: dict[str, int]) -> None:
    base50, base95 = percentile(timings["baseline"], 50), percentile(timings["baseline"], 95)
    print(
        f"server: gunicorn gthread 1 worker x {args.threads} threads, SQLite; one client, {args.rounds} rounds"
    )
    print(f"{'request':<10}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'p50/base':>10}{'p95/base':>10}{'goal':>8}")
    goals = {"baseline": "", "page": "< 3x", "similar": "< 2x"}
    for name, values in timings.items():
        p50, p95 = percentile(values, 50), percentile(values, 95)
        print(
            f"{name:<10}{len(values):>6}{p50 * 1e3:>10.1f}{p95 * 1e3:>10.1f}{p50 / base50:>10.2f}{p95 / base95:>10.2f}"
            f"{goals[name]:>8}"
        )
    print(
        f"faces returned: {sizes['page faces']} in pages, {sizes['similar faces']} similar; "
        f"similar faces' recall@{K} against an exact search: {sizes['recall']:.3f}"
    )


if __name__ == "__main__":
    main()
