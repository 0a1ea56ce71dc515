"""Active-learning query strategies: one module per strategy behind one signature.

``select_batch(name, inputs, batch_size, seed)`` with a :class:`SelectionInputs` of
pool-aligned arrays returns pool indices; see :mod:`ml_engine.strategies.registry`.
"""

from __future__ import annotations

from ml_engine.strategies.base import SelectionInputs
from ml_engine.strategies.registry import (
    BALANCED_SUFFIX,
    DEFAULT_STRATEGY,
    STRATEGIES,
    QueryStrategy,
    get_strategy,
    select_batch,
    strategy_name,
)

__all__ = [
    "BALANCED_SUFFIX",
    "DEFAULT_STRATEGY",
    "STRATEGIES",
    "QueryStrategy",
    "SelectionInputs",
    "get_strategy",
    "select_batch",
    "strategy_name",
]
