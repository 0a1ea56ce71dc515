"""The seed each turn of the active-learning loop selects with, the same in the app and in ``simulate``."""

from __future__ import annotations


def selection_seed(seed: int, cycle: int) -> int:
    """The seed that picks cycle ``cycle``'s batch (``cycle`` >= 1; cycle 0 is the initial set).

    The app (``annotator.ml_bridge``) and :func:`ml_engine.simulation.oracle_loop.run_strategy`
    both derive it here from the project's (the run's) seed, so a simulation with that seed
    asks for the faces the project asks for, and the same inputs always give the same batch.
    """
    return seed * 1_000 + cycle
