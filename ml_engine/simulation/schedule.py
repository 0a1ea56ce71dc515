"""Seed 000's labeling schedule as plain numbers: how many faces each cycle trains on.

Kept apart from :mod:`ml_engine.simulation.oracle_loop` (which imports torch) so that the web
tier can size a replay, and estimate its length, without loading a network library.
"""

from __future__ import annotations


def batch_sizes(initial_size: int, cycles: int, budget: int) -> list[int]:
    """Faces picked before cycles ``1 .. c-1``; they sum to ``budget - initial_size``.

    The ``n - s`` faces after the initial set are split evenly over the ``c - 1`` selections,
    the remainder going to the first ones (seed 000, §III-A).
    """
    if cycles < 1 or not 0 < initial_size <= budget:
        raise ValueError("need cycles >= 1 and 0 < initial size <= budget")
    if cycles == 1:
        return []
    base, extra = divmod(budget - initial_size, cycles - 1)
    return [base + (1 if i < extra else 0) for i in range(cycles - 1)]


def labels_per_cycle(initial_size: int, cycles: int, budget: int) -> list[int]:
    """The labeled faces each of the ``c`` trainings uses: ``s``, then ``s`` plus each batch so far."""
    counts = [initial_size]
    for size in batch_sizes(initial_size, cycles, budget):
        counts.append(counts[-1] + size)
    return counts
