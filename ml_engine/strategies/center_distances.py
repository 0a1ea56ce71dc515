"""Each point's squared distance to its nearest chosen centre, kept up to date lazily.

Core-Set's k-center greedy and BADGE's k-means++ seeding both add one centre per step
(:func:`greedy_centers`) and then need ``min_c d(i, c)`` for every pool point. Updating all N points after every centre
reads the whole ``N x D`` embedding matrix once per step: for N = 100k, D = 512 that is
200 MB per step, about 20 ms on this CPU, 20 s for a batch of 1,000, and no faster however
the arithmetic is arranged.

Both strategies, though, only need the *extreme* point of a score that grows with the
distance (k-center: the farthest point; BADGE: the winner of an exponential race, see
:mod:`ml_engine.strategies.badge`). So each point keeps an upper bound, its distance to the
centres seen when it was last updated (``synced``), and a point is brought up to date only
when its bound says it could win. The selected point is the exact arg-max, the same as with
eager updates, because every other point's true score is at most its bound's score.

To keep the worst case (bounds so stale that many points must be updated per step) within
about twice the eager cost, all points are brought up to date at once instead whenever that
is cheaper than the next lazy update, or once the lazy updates since the last such refresh
have cost as much as one refresh would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch

PairwiseDistances = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``(rows, centres) -> (len(rows), len(centres))`` float32 squared distances between pool rows.

The callable may compute on a GPU; the bookkeeping here is O(N) numpy per step, which stays
fast on a shared CPU where small multi-threaded torch kernels stall."""

Score = Callable[[np.ndarray], np.ndarray]
"""Maps squared distances ``(N,)`` to scores ``(N,)``; must be non-decreasing in the distance
and map ``-inf`` (a chosen centre) to ``-inf``."""


_SMALL_BLOCK = 1 << 18


def squared_row_norms(matrix: torch.Tensor) -> torch.Tensor:
    """``||x_i||^2`` per row without an ``N x D`` temporary (2 GB for 1M faces at D = 512)."""
    return torch.linalg.vector_norm(matrix, dim=1).square()


class LazyNearestCenter:
    """Upper bounds on nearest-centre squared distances, made exact on demand.

    Args:
        distances: squared distances between pool rows and centre rows.
        initial: ``(N,)`` squared distance of each point to a fixed set of centres chosen
            before (for example Core-Set's labeled faces), or ``inf`` when there are none.
        chunk: rows per block in a full refresh (bounds the temporary memory).
    """

    def __init__(self, distances: PairwiseDistances, initial: np.ndarray, chunk: int = 8192) -> None:
        self.distances = distances
        self.bound = np.array(initial, dtype=np.float32)
        self.synced = np.zeros(len(initial), dtype=np.int64)
        self.centers: list[int] = []
        self.chunk = chunk
        self._lazy_work = 0

    def add(self, index: int) -> None:
        """Make ``index`` a centre; its bound becomes ``-inf`` so it is never picked again."""
        self.centers.append(index)
        self.bound[index] = -np.inf
        self.synced[index] = len(self.centers)

    def sync(self, rows: np.ndarray) -> None:
        """Bring ``rows`` up to date with every centre added since they were last updated."""
        start = int(self.synced[rows].min())
        if start >= len(self.centers):
            return
        centers = np.asarray(self.centers[start:], dtype=np.int64)
        with _threads_for(len(rows) * len(centers)):
            nearest = self.distances(rows, centers).min(axis=1)
        self.bound[rows] = np.minimum(self.bound[rows], nearest)
        self.synced[rows] = len(self.centers)
        self._lazy_work += len(rows) * len(centers)

    def refresh(self) -> None:
        """Bring every point up to date (blocked, so memory stays ``chunk x new centres``)."""
        for start in range(0, len(self.bound), self.chunk):
            self.sync(np.arange(start, min(start + self.chunk, len(self.bound))))
        self._lazy_work = 0

    def best(self, score: Score, block: int = 16) -> int:
        """The non-centre point with the largest exact score (lowest index among ties).

        The highest-scoring bounds are updated in blocks until the arg-max of the scores is an
        up-to-date point: every other point's exact score is at most its bound's score.
        """
        while True:
            scores = score(self.bound)
            winner = int(np.argmax(scores))
            if self.synced[winner] == len(self.centers):
                return winner
            count = min(block, len(self.bound) - len(self.centers))
            rows = np.argpartition(scores, len(scores) - count)[-count:]
            lazy_cost = count * (len(self.centers) - int(self.synced[rows].min()))
            refresh_cost = len(self.bound) * (len(self.centers) - int(self.synced.min()))
            if lazy_cost >= refresh_cost or self._lazy_work >= refresh_cost:
                self.refresh()
            else:
                self.sync(rows)
                block *= 2


def greedy_centers(
    distances: PairwiseDistances,
    initial: np.ndarray,
    count: int,
    first: int | None = None,
    rng: np.random.Generator | None = None,
) -> list[int]:
    """Pick centres one at a time by their squared distance ``D^2`` to the nearest centre.

    Without ``rng``, the farthest point (k-center greedy: Gonzalez 1985; Core-Set, Sener &
    Savarese 2018, Alg. 1). With ``rng``, a point drawn with probability ``D^2 / sum D^2``
    (k-means++ seeding, Arthur & Vassilvitskii 2007; BADGE) as an exponential race: fresh
    ``r_i ~ Exp(1)``, one per point, each step, and the arg-max of ``D^2_i / r_i``.

    Args:
        distances: squared distances between points.
        initial: ``(N,)`` squared distance of each point to centres fixed before, or ``inf``.
        count: how many centres to return, ``first`` included.
        first: the first centre, when the caller chooses it.
        rng: draws the race; ``None`` for the farthest point.

    Returns:
        Point indices in pick order; ties go to the lowest index.
    """
    nearest = LazyNearestCenter(distances, initial)
    if first is not None:
        nearest.add(first)
        nearest.refresh()
    while len(nearest.centers) < count:
        if rng is None:
            nearest.add(nearest.best(_farthest))
            continue
        race = rng.standard_exponential(len(initial))

        def raced(bound: np.ndarray, race: np.ndarray = race) -> np.ndarray:
            return bound / race

        nearest.add(nearest.best(raced))
    return nearest.centers


def _farthest(bound: np.ndarray) -> np.ndarray:
    return bound


@contextmanager
def _threads_for(pairs: int) -> Iterator[None]:
    """Run small distance blocks on one CPU thread.

    A lazy update is a few dozen rows; split over several threads on a busy machine, each
    tiny torch kernel waits for a descheduled thread (measured 27x slower with 2 threads than
    1 on this shared 2-core box). Large blocks keep torch's thread count.
    """
    if pairs >= _SMALL_BLOCK:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
