"""Compare query strategies on a project's own labels: seed 000's oracle loop, run by a worker.

The project's labeled pool faces are the pool and their aggregated labels the oracle's
answers; its labeled test faces are the test set. :func:`ml_engine.simulation.comparison.simulate` replays
the annotation loop once per (strategy, seed), the same code ``python -m ml_engine simulate``
runs, and writes the same ``results.csv``. What comes back is plain values for the job's
result: the curves, the sizes and model used, and one sentence saying whether any strategy
saved labels against random sampling by more than the spread between seeds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from annotator.ml_bridge import faces_to_dataset
from ml_engine.json_values import json_safe

if TYPE_CHECKING:
    from ml_engine.data.dataset import FaceDataset
    from ml_engine.progress import CancelFlag, ProgressCallback
    from ml_engine.simulation.results import StrategySummary

BALANCED_SUFFIX = "+balanced"
"""``ml_engine.strategies.BALANCED_SUFFIX``, here without importing torch on the request path."""

BASELINE = "random"
"""Every comparison runs random sampling: the savings are measured against it."""

CPU_MODEL, CPU_IMAGE_SIZE, CPU_EPOCHS = "small_cnn", 32, 20
CPU_TRAINING = {"batch_size": 16, "lr": 0.05, "augment": False}
"""On a CPU worker: 1,000 labeled faces, 3 strategies and 3 seeds take minutes with these.
Calibrated on 1,000 synthetic faces (7 classes, 42.5% of the test faces in one): with 8
epochs, batches of 32, the default learning rate and augmentation the small CNN stayed at
34-42% from 100 to 500 labels, i.e. never beat always answering the largest class, and any
comparison would have compared noise; with these it reached 46-59%, 17 s per 5-cycle run."""

INITIAL_SHARE, BUDGET_SHARE, CYCLES = 0.1, 0.5, 5
"""Seed 000 starts from 10% of the pool and stops at 40%; at half the labeled faces the
strategies still choose (at all of them every strategy would end on the same set)."""


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
    labeled: int, num_classes: int, model: str, image_size: int, epochs: int, device: str, **training: Any
) -> Any:
    """Seed 000's loop sized to ``labeled`` faces: 10% initial (at least one per class), half as budget.

    Every cycle trains low-variance (:data:`~ml_engine.training.LOW_VARIANCE`), as the
    project's own trainings do; ``training`` overrides :class:`~ml_engine.training.TrainConfig`
    fields (the CPU settings, the step floor).
    """
    from ml_engine.simulation.oracle_loop import LoopSettings
    from ml_engine.training import LOW_VARIANCE, TrainConfig

    initial = min(max(num_classes, round(INITIAL_SHARE * labeled)), labeled)
    budget = max(initial, round(BUDGET_SHARE * labeled))
    cycles = max(1, min(CYCLES, budget - initial + 1))
    train = TrainConfig(model=model, image_size=image_size, epochs=epochs, **(LOW_VARIANCE | training))
    return LoopSettings(initial_size=initial, cycles=cycles, budget=budget, train=train, device=device)


def run_comparison(
    inputs: ComparisonInputs, out_dir: Path, *, progress: ProgressCallback, cancel: CancelFlag
) -> dict[str, Any]:
    """Run every (strategy, seed) of the oracle loop and summarise it (resumes from ``out_dir``).

    A CPU worker trains the small CNN at 32 px for a few epochs; a GPU worker the project's
    own model, size and epochs. ``progress`` gets the fraction of all trainings done.
    """
    from ml_engine.device import resolve_device
    from ml_engine.progress import Cancelled, Progress
    from ml_engine.simulation.comparison import simulate

    device = str(resolve_device(inputs.device))
    on_gpu = device.startswith("cuda")
    model = inputs.project_model if on_gpu else CPU_MODEL
    image_size = inputs.project_image_size if on_gpu else CPU_IMAGE_SIZE
    epochs = inputs.project_epochs if on_gpu else CPU_EPOCHS
    pool, test = comparison_faces(inputs, image_size)
    training = ({} if on_gpu else CPU_TRAINING) | {"min_steps": inputs.min_train_steps}
    settings = loop_settings(
        len(pool), len(inputs.class_names), model, image_size, epochs, device, **training
    )
    strategies = list(dict.fromkeys([BASELINE, *inputs.strategies]))
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

    outcome = simulate(
        pool, test, strategies, list(inputs.seeds), settings, out_dir, progress=report, log=count
    )
    return json_safe(
        {
            "labeled_faces": len(pool),
            "test_faces": len(test),
            "model": model,
            "image_size": image_size,
            "epochs": epochs,
            "batch_size": settings.train.batch_size,
            "lr": settings.train.lr,
            "augment": settings.train.augment,
            "ema_decay": settings.train.ema_decay,
            "min_steps": settings.train.min_steps,
            "validation_share": settings.train.validation_share,
            "device": device,
            "initial": settings.initial_size,
            "cycles": settings.cycles,
            "budget": settings.budget,
            "seeds": list(inputs.seeds),
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
