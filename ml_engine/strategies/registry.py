"""The query strategies by name, and ``select_batch`` to run one.

Each entry says which :class:`~ml_engine.strategies.base.SelectionInputs` fields the strategy
reads, so a caller (the web app's bridge, the simulation) computes only what is needed:
BALD needs ``T`` extra MC-dropout passes, DeepFool the model and the pool images.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from ml_engine.strategies.badge import select_badge
from ml_engine.strategies.bald import select_bald
from ml_engine.strategies.base import SelectFunction, SelectionInputs
from ml_engine.strategies.class_balance import select_class_balanced
from ml_engine.strategies.coreset import select_coreset
from ml_engine.strategies.deepfool import select_deepfool
from ml_engine.strategies.entropy import select_entropy
from ml_engine.strategies.glister import select_glister
from ml_engine.strategies.least_confidence import select_least_confidence
from ml_engine.strategies.margin import select_margin
from ml_engine.strategies.random_sampling import select_random


@dataclass(frozen=True)
class QueryStrategy:
    """A query strategy: how to pick the next faces to label (the app stores only its name).

    Attributes:
        name: registry key.
        title: the name seed 000's Table I uses.
        select: the selection function.
        needs: the ``SelectionInputs`` fields it reads.
    """

    name: str
    title: str
    select: SelectFunction
    needs: tuple[str, ...]


STRATEGIES: dict[str, QueryStrategy] = {
    strategy.name: strategy
    for strategy in (
        QueryStrategy("random", "Random Sampling", select_random, ()),
        QueryStrategy("entropy", "Entropy", select_entropy, ("probabilities",)),
        QueryStrategy("margin", "Margin", select_margin, ("probabilities",)),
        QueryStrategy("least_confidence", "Least Confidence", select_least_confidence, ("probabilities",)),
        QueryStrategy("badge", "BADGE", select_badge, ("probabilities", "embeddings")),
        QueryStrategy("glister", "GLISTER", select_glister, ("probabilities", "embeddings")),
        QueryStrategy("coreset", "CoreSet", select_coreset, ("embeddings",)),
        QueryStrategy("bald", "BALD", select_bald, ("mc_probabilities",)),
        QueryStrategy("deepfool", "Adv. DeepFool", select_deepfool, ("model", "images")),
    )
}
"""All strategies, in seed 000's Table I order."""

DEFAULT_STRATEGY = "least_confidence"
"""Seed 000's best strategy on average, and the one it pairs with SSL pre-training."""


BALANCED_SUFFIX = "+balanced"
"""``"<name>+balanced"`` names strategy ``<name>`` wrapped by class-balanced quotas
(:mod:`ml_engine.strategies.class_balance`); every registered strategy has this variant."""


def strategy_name(name: str, class_balanced: bool) -> str:
    """The registry name of ``name``, or of its class-balanced variant."""
    return f"{name.removesuffix(BALANCED_SUFFIX)}{BALANCED_SUFFIX}" if class_balanced else name


def get_strategy(name: str) -> QueryStrategy:
    """The strategy registered as ``name``, or its class-balanced variant; ValueError lists the known names."""
    base_name = name.removesuffix(BALANCED_SUFFIX)
    try:
        base = STRATEGIES[base_name]
    except KeyError:
        raise ValueError(
            f"unknown strategy {name!r}; known: {', '.join(STRATEGIES)} (each also as <name>{BALANCED_SUFFIX})"
        ) from None
    if base_name == name:
        return base
    needs = base.needs if "probabilities" in base.needs else ("probabilities", *base.needs)
    return QueryStrategy(
        name, f"{base.title} (class-balanced)", partial(select_class_balanced, base.select), needs
    )


def select_batch(
    name: str, inputs: SelectionInputs, batch_size: int, seed: int, **options: object
) -> np.ndarray:
    """Run strategy ``name``: at most ``batch_size`` unique candidate indices, most wanted first.

    Fewer than ``batch_size`` come back only when fewer candidates (pool faces neither labeled
    nor excluded) exist. ``options`` go to the strategy (e.g. ``prefilter`` for DeepFool).
    """
    picks = get_strategy(name).select(inputs, batch_size, seed, **options)
    return np.asarray(picks, dtype=np.int64)
