"""Pieces of the strategy-comparison simulation run by :mod:`ml_engine.simulate`."""
