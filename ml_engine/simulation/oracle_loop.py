"""Seed 000's active-learning loop with an oracle: the dataset's labels answer every query.

Cycle 0 trains on an initial set of ``s`` faces; each of the next ``c - 1`` cycles lets the
strategy pick ``(n - s) / (c - 1)`` more faces (n = total budget; the remainder goes to the
first picks), retrains and evaluates on the test split (seed 000, §III-A). Every cycle
retrains from the same starting point: the given pre-trained weights (the backbone is
reloaded each cycle, the head starts afresh) or a fresh initialisation, as ActiveFER's
``isreset`` did, but without its bug of wiping the pre-trained weights (
docs/reference-implementations.md §1.3). With ``warm_start_epochs`` the loop instead does
what the app does between batches: each cycle after the first starts from the previous
cycle's backbone (its head afresh) and trains that many epochs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from ml_engine.cold_start import random_initial, representative_initial
from ml_engine.cycle_seeds import selection_seed
from ml_engine.data.dataset import FaceDataset
from ml_engine.evaluation import evaluate
from ml_engine.inference import predict
from ml_engine.models import create_model, load_backbone_weights
from ml_engine.progress import ProgressCallback
from ml_engine.simulation import schedule
from ml_engine.simulation.pool_inputs import selection_inputs
from ml_engine.strategies import BALANCED_SUFFIX, get_strategy, select_batch
from ml_engine.training import TrainConfig, fit

InitialSelection = Callable[[FaceDataset, int, int], np.ndarray]
"""``(pool, size, seed) -> indices`` of the initial labeled set (e.g. representative picks on
SSL embeddings); the default draws uniformly at random, as seed 000 does."""


def random_initial_selection(pool: FaceDataset, size: int, seed: int) -> np.ndarray:
    """``size`` pool faces uniformly at random (seed 000's protocol), as the app draws its first batch.

    The draw is :func:`ml_engine.cold_start.random_initial`, which the app also calls (through
    ``annotator.ml_bridge``) on its pool in id order, so a simulation with the project's seed
    starts from the project's initial set.
    """
    return random_initial(len(pool), size, seed)


def initial_selection(
    method: str, pool: FaceDataset, settings: LoopSettings, weights: dict[str, torch.Tensor] | None
) -> InitialSelection:
    """Random, or representative picks (``ml_engine.cold_start``) on the pool's embeddings by the
    pre-trained backbone ``weights`` (the app picks on the same embeddings after pre-training)."""
    if method == "random":
        return random_initial_selection
    if weights is None:
        raise ValueError(f"the {method} initial set needs pre-trained weights to embed the pool")
    train = settings.train
    model = create_model(train.model, pool.num_classes, **train.model_kwargs)
    load_backbone_weights(model, weights)
    embeddings = predict(model, pool, image_size=train.image_size, device=settings.device).embeddings

    def representative(_: FaceDataset, size: int, seed: int) -> np.ndarray:
        return representative_initial(embeddings, size, method=method, seed=seed)

    return representative


@dataclass
class LoopSettings:
    """One simulated annotation project.

    Attributes:
        initial_size: ``s``, faces labeled before the first training.
        cycles: ``c``, trainings (the first on the initial set).
        budget: ``n``, labeled faces after the last cycle's selection.
        train: the training settings of every cycle (its ``seed`` is replaced per run).
        device: where to train, score and select.
        mc_passes: MC-dropout passes for BALD (T = 10 as distil).
        strategy_options: extra keyword arguments per strategy name.
        warm_start_epochs: None retrains every cycle from the starting point; a number
            continues from the previous cycle's backbone for that many epochs (as the app).
    """

    initial_size: int
    cycles: int
    budget: int
    train: TrainConfig
    device: str = "cpu"
    mc_passes: int = 10
    strategy_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    warm_start_epochs: int | None = None

    def batch_sizes(self) -> list[int]:
        """Faces picked before cycles ``1 .. c-1`` (:func:`~ml_engine.simulation.schedule.batch_sizes`)."""
        return schedule.batch_sizes(self.initial_size, self.cycles, self.budget)


@dataclass(frozen=True)
class CycleRecord:
    """The outcome of one cycle, one CSV row."""

    strategy: str
    seed: int
    cycle: int
    labels: int
    accuracy: float
    macro_f1: float
    train_seconds: float
    select_seconds: float
    per_class_recall: tuple[float, ...] = ()
    """Test recall of each class (NaN where the test split has none): whether rare classes learn."""
    labeled_per_class: tuple[int, ...] = ()
    """Faces of each class (by the oracle's label) in this cycle's training set: whether rare
    classes get asked about."""


def run_strategy(
    pool: FaceDataset,
    test: FaceDataset,
    strategy: str,
    seed: int,
    settings: LoopSettings,
    *,
    initial_weights: dict[str, torch.Tensor] | None = None,
    initial_selection: InitialSelection = random_initial_selection,
    progress: ProgressCallback | None = None,
) -> Iterator[CycleRecord]:
    """Run the loop for one strategy and seed, yielding each cycle's record as it finishes.

    The seed fixes the initial set (the same for every strategy), the training runs and the
    strategy's own randomness, so strategies are compared on equal footing. The loop turns as
    the app's does (``tests/annotator/test_simulate_parity.py``): every cycle trains with the
    seed itself on the labeled faces in pool order, and selects with
    :func:`~ml_engine.cycle_seeds.selection_seed`.
    """
    if settings.budget > len(pool):
        raise ValueError(f"budget {settings.budget} exceeds the pool of {len(pool)} faces")
    chosen = get_strategy(strategy)
    labeled = np.asarray(initial_selection(pool, settings.initial_size, seed), dtype=np.int64)
    sizes = settings.batch_sizes()
    start_from = initial_weights
    for cycle in range(settings.cycles):
        started = time.perf_counter()
        config = replace(settings.train, seed=seed)
        if cycle > 0 and settings.warm_start_epochs is not None:
            config = replace(config, epochs=settings.warm_start_epochs)
        model = fit(
            config,
            pool.subset(np.sort(labeled)),
            device=settings.device,
            initial_weights=start_from,
            progress=progress,
        ).model
        if settings.warm_start_epochs is not None:
            start_from = {key: value.detach().clone() for key, value in model.state_dict().items()}
        scores = predict(model, test, image_size=config.image_size, device=settings.device)
        metrics = evaluate(test.labels, scores.probabilities, test.class_names)
        trained, count = time.perf_counter(), len(labeled)
        if cycle < settings.cycles - 1:
            inputs = selection_inputs(
                model,
                pool,
                labeled,
                chosen,
                image_size=config.image_size,
                device=settings.device,
                mc_passes=settings.mc_passes,
            )
            options = settings.strategy_options.get(strategy.removesuffix(BALANCED_SUFFIX), {})
            labeled = np.concatenate(
                [
                    labeled,
                    select_batch(strategy, inputs, sizes[cycle], selection_seed(seed, cycle + 1), **options),
                ]
            )
        yield CycleRecord(
            strategy,
            seed,
            cycle,
            count,
            metrics.accuracy,
            metrics.macro_f1,
            trained - started,
            time.perf_counter() - trained,
            tuple(float(value) for value in metrics.per_class_recall),
            tuple(int(n) for n in np.bincount(pool.labels[labeled[:count]], minlength=pool.num_classes)),
        )
