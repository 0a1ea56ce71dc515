"""Compare query strategies on a project's own labels: seed 000's oracle loop, run by a worker.

The project's labeled pool faces are the pool and their aggregated labels the oracle's
answers; its labeled test faces are the test set. :func:`ml_engine.simulation.comparison.simulate` replays
the annotation loop once per (strategy, seed), the same code ``python -m ml_engine simulate``
runs, and writes the same ``results.csv``. What comes back is plain values for the job's
result: the curves, the sizes and model used, and one sentence saying whether any strategy
saved labels against random sampling by more than the spread between seeds.

A replay trains one of two models (:data:`REPLAYS`), chosen before the job is queued
(``annotator.selectors.comparison_plan``): the project's own (its network, image size and
epochs, its pre-trained backbone, its first-batch method and warm starts, as its cycles
train), whose verdict holds for the model the project trains, or a small CNN at 32 px from
scratch, a stand-in that answers in minutes on a CPU but may rank strategies differently.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from annotator.ml_bridge import faces_to_dataset
from annotator.ml_bridge.backbone_weights import load_backbone_weights_file
from annotator.ml_bridge.training import BALD_DROPOUT, load_backbone
from ml_engine.json_values import json_safe
from ml_engine.simulation.schedule import labels_per_cycle

if TYPE_CHECKING:
    from ml_engine.data.dataset import FaceDataset
    from ml_engine.progress import CancelFlag, ProgressCallback
    from ml_engine.simulation.results import StrategySummary

BALANCED_SUFFIX = "+balanced"
"""``ml_engine.strategies.BALANCED_SUFFIX``, here without importing torch on the request path."""

BASELINE = "random"
"""Every comparison runs random sampling: the savings are measured against it."""

PROJECT_MODEL, PROXY_MODEL = "project", "proxy"
REPLAYS = (PROJECT_MODEL, PROXY_MODEL)

PROXY_NETWORK, PROXY_IMAGE_SIZE, PROXY_EPOCHS = "small_cnn", 32, 20
PROXY_TRAINING = {"batch_size": 16, "lr": 0.05, "augment": False}
"""The stand-in: 1,000 labeled faces, 3 strategies and 3 seeds take minutes on a CPU with these.
Calibrated on 1,000 synthetic faces (7 classes, 42.5% of the test faces in one): with 8
epochs, batches of 32, the default learning rate and augmentation the small CNN stayed at
34-42% from 100 to 500 labels, i.e. never beat always answering the largest class, and any
comparison would have compared noise; with these it reached 46-59%, 17 s per 5-cycle run."""

INITIAL_SHARE, BUDGET_SHARE, CYCLES = 0.1, 0.5, 5
"""Seed 000 starts from 10% of the pool and stops at 40%; at half the labeled faces the
strategies still choose (at all of them every strategy would end on the same set)."""

SSL_BACKBONE, OWNER_WEIGHTS, SCRATCH = "ssl", "owner weights", "scratch"
"""Where the project's replay starts, as a project's first training starts (``training.initial_weights``)."""


@dataclass(frozen=True)
class ComparisonInputs:
    """What a comparison needs, read from the database by the service."""

    class_names: tuple[str, ...]
    rows: list[dict[str, Any]]
    """One per face; its ``image`` is a local file of the face (``annotator.file_store.local_copies``)."""
    strategies: tuple[str, ...]
    seeds: tuple[int, ...]
    project_model: str
    project_image_size: int
    project_epochs: int
    device: str
    min_train_steps: int = 0
    """The step floor of low-variance training, as the project's own trainings."""
    replay: str = PROXY_MODEL
    """:data:`PROJECT_MODEL` or :data:`PROXY_MODEL`; the rest below applies to the project's model only."""
    started_from: str = SCRATCH
    backbone: Path | None = None
    """A local file of the weights ``started_from`` names (None from scratch)."""
    initial_selection: str = "random"
    """The first batch's method; a representative one needs ``started_from`` to be the SSL backbone."""
    estimated_seconds: int | None = None
    """What the plan estimated for the project's replay, kept beside the seconds it took."""
    warm_start_epochs: int | None = None
    """Epochs of each training after the first, continued from the previous one; None retrains afresh."""


def replay_schedule(labeled: int, num_classes: int) -> tuple[int, int, int]:
    """Seed 000's loop sized to ``labeled`` faces: the initial set (10%, at least one per class),
    the trainings and the budget (half of them)."""
    initial = min(max(num_classes, round(INITIAL_SHARE * labeled)), labeled)
    budget = max(initial, round(BUDGET_SHARE * labeled))
    cycles = max(1, min(CYCLES, budget - initial + 1))
    return initial, cycles, budget


def replay_labels(labeled: int, num_classes: int) -> list[int]:
    """The labeled faces of each training of one replay run on ``labeled`` faces."""
    return labels_per_cycle(*replay_schedule(labeled, num_classes))


def comparison_faces(inputs: ComparisonInputs, image_size: int) -> tuple[FaceDataset, FaceDataset]:
    """The labeled pool faces (aggregated labels) and the labeled test faces, decoded into memory."""
    stored = faces_to_dataset(inputs.class_names, inputs.rows)
    pixels = np.empty((len(stored), image_size, image_size), dtype=np.uint8)
    for index in range(len(stored)):
        pixels[index] = stored.load_image(index, image_size)
    faces = replace(stored, images=pixels)
    labeled = faces.labels >= 0
    pool = faces.subset(np.flatnonzero(labeled & (faces.splits == "train")))
    test = faces.subset(np.flatnonzero(labeled & (faces.splits == "test")))
    return pool, test


def loop_settings(
    labeled: int,
    num_classes: int,
    model: str,
    image_size: int,
    epochs: int,
    device: str,
    warm_start_epochs: int | None = None,
    **training: Any,
) -> Any:
    """Seed 000's loop sized to ``labeled`` faces (:func:`replay_schedule`).

    Every cycle trains low-variance (:data:`~ml_engine.training.LOW_VARIANCE`), as the
    project's own trainings do; ``training`` overrides :class:`~ml_engine.training.TrainConfig`
    fields (the stand-in's settings, the step floor, BALD's dropout).
    """
    from ml_engine.simulation.oracle_loop import LoopSettings
    from ml_engine.training import LOW_VARIANCE, TrainConfig

    initial, cycles, budget = replay_schedule(labeled, num_classes)
    train = TrainConfig(model=model, image_size=image_size, epochs=epochs, **(LOW_VARIANCE | training))
    return LoopSettings(
        initial_size=initial,
        cycles=cycles,
        budget=budget,
        train=train,
        device=device,
        warm_start_epochs=warm_start_epochs,
    )


def _starting_weights(inputs: ComparisonInputs) -> dict[str, Any] | None:
    if inputs.replay != PROJECT_MODEL or inputs.backbone is None:
        return None
    if inputs.started_from == SSL_BACKBONE:
        return load_backbone(inputs.backbone)
    return load_backbone_weights_file(inputs.backbone)


def run_comparison(
    inputs: ComparisonInputs, out_dir: Path, *, progress: ProgressCallback, cancel: CancelFlag
) -> dict[str, Any]:
    """Run every (strategy, seed) of the oracle loop and summarise it (resumes from ``out_dir``).

    The project's replay trains what the project's cycles train: its network, image size and
    epochs, from its pre-trained backbone (or the owner's weights), warm-starting each later
    cycle when the project does, after a first batch picked as the project picks it (a
    representative method embeds the pool with the backbone). The stand-in trains a small CNN
    at 32 px from scratch, after a random first batch.
    Both train low-variance with the project's step floor, and with dropout before the head
    for every strategy when BALD is among them (BALD samples it; the others get the same
    network, for fairness). ``progress`` gets the fraction of all trainings done.
    """
    from ml_engine.device import resolve_device
    from ml_engine.progress import Cancelled, Progress
    from ml_engine.simulation.comparison import simulate
    from ml_engine.simulation.oracle_loop import initial_selection

    device = str(resolve_device(inputs.device))
    own = inputs.replay == PROJECT_MODEL
    model = inputs.project_model if own else PROXY_NETWORK
    image_size = inputs.project_image_size if own else PROXY_IMAGE_SIZE
    epochs = inputs.project_epochs if own else PROXY_EPOCHS
    pool, test = comparison_faces(inputs, image_size)
    strategies = list(dict.fromkeys([BASELINE, *inputs.strategies]))
    bald = any(name.removesuffix(BALANCED_SUFFIX) == "bald" for name in strategies)
    training = ({} if own else PROXY_TRAINING) | {
        "min_steps": inputs.min_train_steps,
        "dropout": BALD_DROPOUT if bald else 0.0,
    }
    warm_start_epochs = inputs.warm_start_epochs if own else None
    settings = loop_settings(
        len(pool), len(inputs.class_names), model, image_size, epochs, device, warm_start_epochs, **training
    )
    weights = _starting_weights(inputs)
    first_batch = inputs.initial_selection if own else "random"
    picks = initial_selection(first_batch, pool, settings, weights)
    total = len(strategies) * len(inputs.seeds) * settings.cycles
    finished = 0

    def count(line: str) -> None:
        nonlocal finished
        finished += settings.cycles if "already complete" in line else 1
        if cancel():
            raise Cancelled()

    def report(step: Progress) -> None:
        if cancel():
            raise Cancelled()
        # "Epoch" k of ``total``: the k-th training of the comparison, its own fraction in thousandths.
        progress(
            Progress(
                stage="compare",
                epoch=min(finished + 1, total),
                epochs=total,
                step=round(1000 * step.fraction),
                steps=1000,
            )
        )

    started_from = inputs.started_from if own else SCRATCH
    started = time.perf_counter()
    outcome = simulate(
        pool,
        test,
        strategies,
        list(inputs.seeds),
        settings,
        out_dir,
        initial_weights=weights,
        weights_name=started_from,
        initial_selection=picks,
        initial_name=first_batch,
        progress=report,
        log=count,
    )
    return json_safe(
        {
            "labeled_faces": len(pool),
            "test_faces": len(test),
            "replay": inputs.replay,
            "model": model,
            "image_size": image_size,
            "epochs": epochs,
            "started_from": started_from,
            "initial_selection": first_batch,
            "warm_start_epochs": warm_start_epochs,
            "batch_size": settings.train.batch_size,
            "lr": settings.train.lr,
            "augment": settings.train.augment,
            "dropout": settings.train.dropout,
            "ema_decay": settings.train.ema_decay,
            "min_steps": settings.train.min_steps,
            "validation_share": settings.train.validation_share,
            "device": device,
            "initial": settings.initial_size,
            "cycles": settings.cycles,
            "budget": settings.budget,
            "seeds": list(inputs.seeds),
            "seconds": round(time.perf_counter() - started),
            "estimated_seconds": inputs.estimated_seconds if own else None,
            **summary(outcome.summaries, len(pool), len(inputs.seeds)),
        }
    )


def per_seed_savings(strategy: StrategySummary, baseline: StrategySummary) -> np.ndarray:
    """Per seed, the share of random's labels a strategy did without to reach random's final accuracy.

    Seed ``i`` of the strategy is compared with seed ``i`` of random (same initial set, same
    training seeds): the labels at which each curve (linear between cycles) first reaches
    random's last accuracy give the saving ``1 - strategy's / random's``. Random's own labels,
    not the budget, are the reference: on a noisy curve random may reach its final accuracy
    early (even at the initial set), and a strategy reaching it there too saved nothing. A
    curve that never reaches it saves nothing.
    """
    from ml_engine.simulation.results import labels_to_reach

    savings = []
    for run, reference in zip(strategy.accuracy, baseline.accuracy, strict=True):
        target = float(reference[-1])
        needed = labels_to_reach(baseline.labels, reference, target)
        reached = labels_to_reach(strategy.labels, run, target)
        savings.append(0.0 if reached is None or needed is None else 1.0 - reached / needed)
    return np.asarray(savings)


def summary(summaries: list[StrategySummary], labeled: int, seeds: int) -> dict[str, Any]:
    """The curves, each strategy's saving against random, and the sentence the dashboard shows.

    A strategy beats random when its mean saving over seeds exceeds the seeds' standard
    deviation of it (and zero); the largest such saving is named.
    """
    from ml_engine.strategies import get_strategy

    baseline = next(s for s in summaries if s.name == BASELINE)
    curves, best, best_saving = [], None, 0.0
    for summary in summaries:
        savings = per_seed_savings(summary, baseline)
        mean = float(savings.mean())
        spread = float(savings.std(ddof=1)) if len(savings) > 1 else 0.0
        curves.append(
            {
                "strategy": summary.name,
                "title": get_strategy(summary.name).title,
                "labels": summary.labels.tolist(),
                "accuracy": summary.accuracy.tolist(),
                "macro_f1": summary.macro_f1.tolist(),
                "saving": mean,
                "saving_spread": spread,
            }
        )
        if summary.name != BASELINE and mean > spread and mean > best_saving:
            best, best_saving = curves[-1], mean
    runs = f"{seeds} seed{'s' if seeds != 1 else ''}"
    if best is None:
        sentence = f"On your {labeled} labeled faces, no strategy beat random beyond the spread ({runs})."
    else:
        sentence = (
            f"On your {labeled} labeled faces, {best['title']} reached random's final accuracy with "
            f"{100 * best['saving']:.0f}% fewer labels ({runs}; spread ±{100 * best['saving_spread']:.0f})."
        )
    return {"curves": curves, "best": None if best is None else best["strategy"], "sentence": sentence}
