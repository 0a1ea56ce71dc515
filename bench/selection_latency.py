"""Selection latency and memory of every query strategy, beside a straightforward reference.

Goal: every strategy picks 1,000 faces from a 100k pool (D = 512, C = 7) in under
10 s on this 2-core CPU, in under 4 GB. The pool is synthetic but shaped like real
penultimate features: non-negative (post-ReLU) embeddings clustered around 7 class centres
in a 32-dimensional subspace plus noise, probabilities from a linear head on them, 10
MC-dropout samples around those probabilities. 1% of the pool is labeled, 0.5% excluded.

What is timed: ``select_batch`` on precomputed arrays, i.e. selection only, not the forward
pass over the pool. DeepFool and GLISTER run on the last layer (a linear head on the
precomputed 512-d features); full-model DeepFool is reported separately on a small pool of
48 px images with ``small_cnn``. Slow references run only their first ``--ref-picks`` picks
and are extrapolated to the full batch (set-up time measured with 1 pick, plus the measured
per-pick time); one-at-a-time DeepFool attacks ``--ref-faces`` faces and is scaled to the
pool. The table marks extrapolated times with ``~``. Memory: peak Python/numpy allocations (tracemalloc; torch CPU tensors are
not traced) and peak resident-set growth above the start of the call (sampled every 5 ms).

    python bench/selection_latency.py [--sizes 10000,100000] [--million] [--threads 1]

``--threads`` sets torch, faiss and OpenBLAS threads (default 1: on a machine shared by
several jobs, small multi-threaded kernels stall; see ml_engine/strategies/center_distances.py).
"""

from __future__ import annotations

import os
import sys

THREADS = next((a.split("=")[1] for a in sys.argv if a.startswith("--threads=")), "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", THREADS)
os.environ.setdefault("OMP_NUM_THREADS", THREADS)

import argparse  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import reference_strategies as ref  # noqa: E402

np.seterr(all="ignore")  # the references' p * log p at p = 0 (the bug the fast versions avoid)

from ml_engine.strategies import SelectionInputs, select_batch  # noqa: E402
from ml_engine.strategies.deepfool import deepfool_perturbations  # noqa: E402

CLASSES, DIM, BATCH = 7, 512, 1000
WALL: list[float] = []  # wall seconds of every measurement, in order


def _rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(function: Callable[[], object]) -> tuple[object, float, float, float]:
    """Run ``function``: result, seconds, peak traced MB, peak RSS growth MB.

    Seconds are this process's CPU time (``time.process_time``), not wall time: on a machine
    shared with other jobs, wall time measures their load as much as this code. With one
    thread, CPU time is what the selection would take alone. Wall time is printed as well.
    """
    start_rss, peak = _rss(), [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    tracemalloc.start()
    sampler.start()
    started, wall = time.process_time(), time.perf_counter()
    result = function()
    seconds = time.process_time() - started
    WALL.append(time.perf_counter() - wall)
    stop.set()
    sampler.join()
    traced = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return result, seconds, traced, (max(peak[0], _rss()) - start_rss) / 2**20


def make_pool(size: int, seed: int = 0) -> tuple[SelectionInputs, nn.Linear]:
    """Clustered non-negative embeddings, a linear head's probabilities, MC samples around them."""
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(32, DIM)).astype(np.float32) / np.sqrt(32)
    centres = rng.normal(size=(CLASSES, 32)).astype(np.float32) * 3
    classes = rng.integers(CLASSES, size=size)
    embeddings = np.empty((size, DIM), dtype=np.float32)
    for start in range(0, size, 65536):
        rows = slice(start, min(start + 65536, size))
        latent = centres[classes[rows]] + rng.normal(size=(rows.stop - start, 32)).astype(np.float32)
        embeddings[rows] = np.maximum(latent @ basis + 0.3 * rng.normal(size=(rows.stop - start, DIM)), 0)
    head = nn.Linear(DIM, CLASSES)
    torch.manual_seed(seed)
    with torch.no_grad():
        head.weight.copy_(torch.as_tensor(centres @ basis) * 0.001)  # max-probability median ~0.63
        probabilities = head(torch.as_tensor(embeddings)).softmax(1).numpy()
    noise = rng.gamma(20.0, 1 / 20.0, size=(10, size, CLASSES)).astype(np.float32)
    samples = probabilities[None] * noise
    samples /= samples.sum(axis=2, keepdims=True)
    order, known = rng.permutation(size), min(size // 100, 1000)
    labeled, excluded = np.sort(order[:known]), np.sort(order[known : known + size // 200])
    inputs = SelectionInputs(
        size,
        probabilities=probabilities,
        embeddings=embeddings,
        mc_probabilities=samples,
        labeled=labeled,
        excluded=excluded,
        model=head,
        images=torch.as_tensor(embeddings),
    )
    return inputs, head


def _references(inputs: SelectionInputs) -> dict[str, Callable[[int], np.ndarray]]:
    """Reference callables taking how many picks to make (faces to attack, for DeepFool)."""
    c, p, e = inputs.candidates(), inputs.probabilities, inputs.embeddings
    return {
        "random": lambda k: np.random.default_rng(0).permutation(c)[:k],
        "entropy": lambda k: ref.entropy(p, c, k),
        "margin": lambda k: ref.margin(p, c, k),
        "least_confidence": lambda k: ref.least_confidence(p, c, k),
        "bald": lambda k: ref.bald(inputs.mc_probabilities, c, k),
        "badge": lambda k: ref.badge(p, e, c, k, 0),
        "coreset": lambda k: ref.coreset(e, inputs.labeled, c, k),
        "glister": lambda k: ref.glister(p, e, c, k),
        "deepfool": lambda k: ref.deepfool_one_at_a_time(inputs.model, inputs.images[c[:k]]),
    }


SEQUENTIAL = ("badge", "coreset", "glister")  # references timed on a prefix of picks


def run_reference(name: str, function: Callable[[int], np.ndarray], ref_picks: int, pool: int):
    """Reference picks, measured seconds (extrapolated to the full job if partial), MB, MB, marker."""
    if name == "deepfool":  # cost is per face: attack ref_picks faces, scale to the pool
        result, seconds, traced, rss = measure(lambda: function(ref_picks))
        return result, seconds * pool / ref_picks, traced, rss, "~"
    if name not in SEQUENTIAL or ref_picks >= BATCH:
        result, seconds, traced, rss = measure(lambda: function(BATCH))
        return result, seconds, traced, rss, " "
    _, setup, _, _ = measure(lambda: function(1))  # materialising and initial distances
    result, seconds, traced, rss = measure(lambda: function(ref_picks))
    per_pick = max(seconds - setup, 0.0) / (ref_picks - 1)
    return result, setup + per_pick * (BATCH - 1), traced, rss, "~"


def agreement(
    name: str, fast: np.ndarray, reference: np.ndarray, inputs: SelectionInputs, ref_picks: int
) -> str:
    """Whether the picks agree where they should (exact algorithms) or how much they overlap."""
    if name == "random":
        return "n/a (different RNG streams)"
    if name in ("badge", "coreset"):
        same = np.array_equal(fast[:ref_picks], reference)
        return f"first {ref_picks} picks identical: {same}"
    if name == "glister":
        overlap = len(set(fast.tolist()) & set(reference.tolist())) / len(reference)
        return f"{100 * overlap:.0f}% of the reference's {len(reference)} picks in the batch (64 rounds vs 1 per pick)"
    if name == "deepfool":
        faces = inputs.images[torch.as_tensor(inputs.candidates()[:ref_picks])]
        fast_norms, _ = deepfool_perturbations(inputs.model, faces)
        return f"perturbation norms max rel. diff {np.max(np.abs(fast_norms - reference) / reference):.1e} on {ref_picks} faces"
    shared = len(set(fast.tolist()) & set(reference.tolist()))
    same = "same order" if np.array_equal(fast, reference) else "order differs"
    return f"{shared}/{len(fast)} picks shared, {same} (reference scores in float32, fast in float64)"


CHEAP = ("random", "entropy", "margin", "least_confidence", "bald")
ALL = (*CHEAP, "badge", "coreset", "glister", "deepfool")


def bench_pool(
    size: int, names: tuple[str, ...], ref_picks: int, ref_faces: int, with_reference: bool
) -> None:
    inputs, _ = make_pool(size)
    references = _references(inputs)
    for name in names:
        options = {"chunk_size": 4096} if name == "deepfool" else {}
        fast, seconds, traced, rss = measure(
            lambda name=name, options=options: select_batch(name, inputs, BATCH, 0, **options)
        )
        row = f"{name:<17}{size:>9}{seconds:>9.2f}{WALL[-1]:>9.2f}{traced:>9.0f}{rss:>9.0f}"
        if with_reference:
            count = ref_faces if name == "deepfool" else ref_picks
            picks, ref_seconds, ref_traced, ref_rss, mark = run_reference(
                name, references[name], count, len(inputs.candidates())
            )
            agree = agreement(name, fast, picks, inputs, count)
            row += f"{mark}{ref_seconds:>10.2f}{ref_traced:>9.0f}{ref_rss:>9.0f}{ref_seconds / max(seconds, 1e-6):>9.1f}x  {agree}"
        else:
            row += f"{'(reference skipped)':>38}"
        print(row, flush=True)


def bench_full_model_deepfool(faces: int, picks: int, ref_faces: int) -> None:
    """Batched DeepFool through a whole CNN (small_cnn, 48 px) against one image at a time."""
    from ml_engine.models import create_model

    torch.manual_seed(0)
    model = create_model("small_cnn", CLASSES).eval()
    images = torch.randn(faces, 1, 48, 48)
    inputs = SelectionInputs(faces, model=model, images=images)
    _, seconds, traced, rss = measure(lambda: select_batch("deepfool", inputs, picks, 0, chunk_size=256))
    reference, ref_seconds, *_ = measure(lambda: ref.deepfool_one_at_a_time(model, images[:ref_faces]))
    fast_norms, _ = deepfool_perturbations(model, images[:ref_faces])
    diff = np.max(np.abs(fast_norms - reference) / np.maximum(reference, 1e-12))
    extrapolated = ref_seconds * faces / ref_faces
    print(
        f"full-model DeepFool (small_cnn, 48 px, {faces} faces, pick {picks}): batched {seconds:.2f} CPU s "
        f"(traced {traced:.0f} MB, RSS +{rss:.0f} MB); one at a time ~{extrapolated:.2f} CPU s "
        f"(measured on {ref_faces} faces, scaled) = {extrapolated / seconds:.1f}x; norms max rel. diff {diff:.1e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--million", action="store_true", help="also 1M faces: cheap strategies and coreset")
    parser.add_argument("--ref-picks", type=int, default=20, help="picks a slow sequential reference makes")
    parser.add_argument("--ref-faces", type=int, default=200, help="faces one-at-a-time DeepFool attacks")
    parser.add_argument("--threads", default=THREADS, help="torch/faiss/OpenBLAS threads (--threads=N form)")
    args = parser.parse_args()
    torch.set_num_threads(int(args.threads))
    try:
        import faiss

        faiss.omp_set_num_threads(int(args.threads))
    except ImportError:
        pass
    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; {args.threads} thread(s); batch {BATCH}"
    )
    print(
        f"{'strategy':<17}{'pool':>9}{'cpu s':>9}{'wall s':>9}{'trace MB':>9}{'RSS MB':>9} {'ref cpu s':>10}{'trace MB':>9}{'RSS MB':>9}{'speed-up':>9}  agreement"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        bench_pool(size, ALL, args.ref_picks, args.ref_faces, with_reference=True)
    if args.million:
        bench_pool(1_000_000, CHEAP, args.ref_picks, args.ref_faces, with_reference=True)
        bench_pool(1_000_000, ("coreset",), args.ref_picks, args.ref_faces, with_reference=False)
    bench_full_model_deepfool(faces=1000, picks=100, ref_faces=20)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
