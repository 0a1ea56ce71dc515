"""Compare query strategies on a labeled dataset before spending a real budget (seed 000).

Seed 000 finds that the best strategy depends on the dataset (Least Confidence on KDEF,
Margin on FER13, DeepFool on RAF-DB; Table I), so FaceLoop lets a team replay the
annotation loop on data they already have labels for: the labels act as the oracle. Each
(strategy, seed) run follows :func:`~ml_engine.simulation.oracle_loop.run_strategy`; the
results go to ``results.csv`` (append-only, so an interrupted simulation resumes),
``learning_curve.png`` and ``summary.txt`` (Table I plus the labels each strategy needs to
reach random sampling's final accuracy).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ml_engine.atomic_write import write_text_atomically
from ml_engine.data.dataset import FaceDataset
from ml_engine.progress import ProgressCallback
from ml_engine.simulation.learning_curve import draw_learning_curve
from ml_engine.simulation.oracle_loop import (
    InitialSelection,
    LoopSettings,
    random_initial_selection,
    run_strategy,
)
from ml_engine.simulation.results import (
    StrategySummary,
    append_record,
    completed_runs,
    format_table,
    read_records,
    summarise,
)
from ml_engine.strategies import get_strategy


@dataclass
class SimulationReport:
    """Where the results are, and the summary."""

    csv_path: Path
    plot_path: Path
    table: str
    summaries: list[StrategySummary]


def split_pool_and_test(
    dataset: FaceDataset, test_fraction: float = 0.2, seed: int = 0
) -> tuple[FaceDataset, FaceDataset]:
    """Labeled train/pool faces as the pool; the test split (else val, else a random hold-out) as test."""
    labeled = dataset.labels >= 0
    for name in ("test", "val"):
        chosen = labeled & (dataset.splits == name)
        if chosen.any():
            pool = labeled & np.isin(dataset.splits, ("train", "pool"))
            return dataset.subset(np.flatnonzero(pool)), dataset.subset(np.flatnonzero(chosen))
    rows = np.random.default_rng(seed).permutation(np.flatnonzero(labeled))
    count = round(test_fraction * len(rows))
    return dataset.subset(np.sort(rows[count:])), dataset.subset(np.sort(rows[:count]))


def load_into_memory(dataset: FaceDataset, image_size: int) -> FaceDataset:
    """Decode path-based faces once into a ``uint8`` array (every cycle retrains on them)."""
    if dataset.in_memory:
        return dataset
    pixels = (
        np.stack([dataset.load_image(i, image_size) for i in range(len(dataset))]) if len(dataset) else None
    )
    return replace(
        dataset, images=pixels if pixels is not None else np.zeros((0, image_size, image_size), np.uint8)
    )


def _check_settings(path: Path, settings: dict) -> None:
    """Refuse to mix results of different settings in one output folder."""
    if path.exists():
        saved = json.loads(path.read_text())
        if saved != settings:
            changed = sorted(k for k in settings.keys() | saved.keys() if saved.get(k) != settings.get(k))
            raise ValueError(
                f"{path.parent} holds results of other settings ({', '.join(changed)}); use another --out"
            )
    else:
        write_text_atomically(path, json.dumps(settings, indent=2, sort_keys=True))


def simulate(
    pool: FaceDataset,
    test: FaceDataset,
    strategies: list[str],
    seeds: list[int],
    settings: LoopSettings,
    out_dir: str | Path,
    *,
    initial_weights: dict[str, torch.Tensor] | None = None,
    weights_name: str | None = None,
    initial_selection: InitialSelection = random_initial_selection,
    initial_name: str = "random",
    progress: ProgressCallback | None = None,
    log: Callable[[str], None] = print,
) -> SimulationReport:
    """Run every (strategy, seed) not already complete in ``out_dir``, then summarise all.

    Args:
        pool: labeled faces the strategies choose from (labels = the oracle's answers).
        test: labeled faces every cycle's model is evaluated on.
        strategies: registry names (see :data:`~ml_engine.strategies.STRATEGIES`).
        seeds: one run per seed and strategy.
        settings: initial size, cycles, budget, training settings, device.
        out_dir: folder for ``results.csv``, ``settings.json``, ``learning_curve.png``, ``summary.txt``.
        initial_weights: backbone weights every cycle starts from (e.g. SSL pre-training).
        weights_name: recorded in ``settings.json`` to tell runs with other weights apart.
        initial_selection: picks the initial set (default: uniform random, as seed 000).
        initial_name: names ``initial_selection`` in ``settings.json``.
        progress: training progress callback.
        log: receives one line per finished cycle and per skipped run.
    """
    for name in strategies:
        get_strategy(name)
    if (
        any("mc_probabilities" in get_strategy(name).needs for name in strategies)
        and settings.train.dropout <= 0
    ):
        raise ValueError(
            "BALD samples dropout: set a dropout > 0 (the same for every strategy, for fairness)"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    record = asdict(settings) | {
        "pool": len(pool),
        "test": len(test),
        "initial_weights": weights_name,
        "initial_selection": initial_name,
    }
    record.pop("device")  # a run may resume on another machine
    _check_settings(out / "settings.json", json.loads(json.dumps(record, default=str)))
    csv_path = out / "results.csv"
    done = completed_runs(read_records(csv_path), settings.cycles)
    runs = [(name, seed) for seed in seeds for name in strategies]
    for number, (name, seed) in enumerate(runs, start=1):
        if (name, seed) in done:
            log(f"[{number}/{len(runs)}] {name} seed {seed}: already complete, skipped")
            continue
        for cycle in run_strategy(
            pool,
            test,
            name,
            seed,
            settings,
            initial_weights=initial_weights,
            initial_selection=initial_selection,
            progress=progress,
        ):
            append_record(csv_path, cycle)
            log(
                f"[{number}/{len(runs)}] {name} seed {seed} cycle {cycle.cycle + 1}/{settings.cycles}: "
                f"{cycle.labels} labels, accuracy {100 * cycle.accuracy:.2f}%, macro-F1 {100 * cycle.macro_f1:.2f}% "
                f"(train {cycle.train_seconds:.1f}s, select {cycle.select_seconds:.1f}s)"
            )
    return report(out, strategies, settings.cycles)


def report(out_dir: str | Path, strategies: list[str], cycles: int) -> SimulationReport:
    """Summarise ``results.csv`` in ``out_dir``: write ``summary.txt`` and ``learning_curve.png``."""
    out = Path(out_dir)
    summaries = summarise(read_records(out / "results.csv"), strategies, cycles)
    titles = {name: get_strategy(name).title for name in strategies}
    table = format_table(summaries, titles)
    write_text_atomically(out / "summary.txt", table + "\n")
    draw_learning_curve(summaries, titles, out / "learning_curve.png")
    return SimulationReport(out / "results.csv", out / "learning_curve.png", table, summaries)
