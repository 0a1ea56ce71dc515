"""Seed 000's oracle loop replayed on labeled data: the pieces, and ``comparison``, which runs them.

``python -m ml_engine simulate`` and the app's strategy comparisons both call
:func:`ml_engine.simulation.comparison.simulate`.
"""
