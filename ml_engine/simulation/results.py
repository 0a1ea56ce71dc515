"""Simulation results: an append-only CSV, resuming, and seed 000's Table I with label savings.

The CSV gets one row per finished cycle, flushed at once, so an interrupted simulation
loses at most the cycle in progress; on restart a (strategy, seed) run with every cycle in
the file is skipped and an incomplete one is run again (its old rows are superseded: the
last row of each (strategy, seed, cycle) wins).
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from ml_engine.simulation.oracle_loop import CycleRecord

COLUMNS = [f.name for f in fields(CycleRecord)]


def append_record(path: Path, record: CycleRecord) -> None:
    """Append one row (writing the header first if the file is new) and flush it to disk.

    A file begun before a column was added keeps its header; the new column is left out of it.
    """
    new = not path.exists() or path.stat().st_size == 0
    columns = COLUMNS
    if not new:
        with path.open(newline="") as handle:
            columns = next(csv.reader(handle))
    row = asdict(record) | {
        "per_class_recall": " ".join(f"{value:.6g}" for value in record.per_class_recall),
        "labeled_per_class": " ".join(str(n) for n in record.labeled_per_class),
    }
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)
        handle.flush()


def read_records(path: Path) -> list[CycleRecord]:
    """The rows of ``path`` (none if it does not exist), the latest per (strategy, seed, cycle)."""
    if not path.exists():
        return []
    latest: dict[tuple[str, int, int], CycleRecord] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            record = CycleRecord(
                strategy=row["strategy"],
                seed=int(row["seed"]),
                cycle=int(row["cycle"]),
                labels=int(row["labels"]),
                accuracy=float(row["accuracy"]),
                macro_f1=float(row["macro_f1"]),
                train_seconds=float(row["train_seconds"]),
                select_seconds=float(row["select_seconds"]),
                per_class_recall=tuple(float(value) for value in (row.get("per_class_recall") or "").split()),
                labeled_per_class=tuple(int(value) for value in (row.get("labeled_per_class") or "").split()),
            )
            latest[(record.strategy, record.seed, record.cycle)] = record
    return sorted(latest.values(), key=lambda r: (r.strategy, r.seed, r.cycle))


def completed_runs(records: list[CycleRecord], cycles: int) -> set[tuple[str, int]]:
    """(strategy, seed) pairs with a row for every cycle ``0 .. cycles-1``."""
    seen: dict[tuple[str, int], set[int]] = {}
    for record in records:
        seen.setdefault((record.strategy, record.seed), set()).add(record.cycle)
    return {run for run, done in seen.items() if done >= set(range(cycles))}


@dataclass(frozen=True)
class StrategySummary:
    """One strategy over its seeds: the curve and the final numbers.

    Attributes:
        labels: labeled faces at each cycle.
        accuracy: ``(seeds, cycles)`` test accuracy.
        macro_f1: ``(seeds, cycles)`` test macro-F1.
        labels_to_reach: labels at which the mean curve first reaches random sampling's final
            mean accuracy (linear interpolation between cycles), or None if it never does.
    """

    name: str
    labels: np.ndarray
    accuracy: np.ndarray
    macro_f1: np.ndarray
    labels_to_reach: float | None


def labels_to_reach(labels: np.ndarray, accuracy: np.ndarray, target: float) -> float | None:
    """First label count where the piecewise-linear curve ``accuracy(labels)`` reaches ``target``."""
    for k, value in enumerate(accuracy):
        if value >= target:
            if k == 0:
                return float(labels[0])
            fraction = (target - accuracy[k - 1]) / (value - accuracy[k - 1])
            return float(labels[k - 1] + fraction * (labels[k] - labels[k - 1]))
    return None


def summarise(
    records: list[CycleRecord], strategies: list[str], cycles: int, baseline: str = "random"
) -> list[StrategySummary]:
    """Per-strategy summaries over the complete runs, in ``strategies`` order."""
    complete = completed_runs(records, cycles)
    curves: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for name in strategies:
        rows = [r for r in records if r.strategy == name and (name, r.seed) in complete and r.cycle < cycles]
        if not rows:
            continue
        seeds = sorted({r.seed for r in rows})
        table = {(r.seed, r.cycle): r for r in rows}
        grid = [[table[(s, c)] for c in range(cycles)] for s in seeds]
        curves[name] = (
            np.array([r.labels for r in grid[0]]),
            np.array([[r.accuracy for r in run] for run in grid]),
            np.array([[r.macro_f1 for r in run] for run in grid]),
        )
    target = curves[baseline][1][:, -1].mean() if baseline in curves else None
    return [
        StrategySummary(
            name,
            labels,
            accuracy,
            f1,
            None if target is None else labels_to_reach(labels, accuracy.mean(axis=0), target),
        )
        for name, (labels, accuracy, f1) in curves.items()
    ]


def _mean_std(values: np.ndarray) -> str:
    spread = values.std(ddof=1) if len(values) > 1 else 0.0
    return f"{100 * values.mean():6.2f} ± {100 * spread:5.2f}"


def format_table(summaries: list[StrategySummary], titles: dict[str, str]) -> str:
    """Seed 000's Table I (final test accuracy, mean ± std over seeds) plus macro-F1 and savings."""
    budget = max((int(s.labels[-1]) for s in summaries), default=0)
    header = f"{'Method':<20} {'Accuracy (%)':>15} {'Macro-F1 (%)':>15} {'Seeds':>5}  Labels to reach Random's final acc."
    lines = [header, "-" * len(header)]
    for summary in summaries:
        reach = summary.labels_to_reach
        saving = "not reached" if reach is None else f"{reach:8.0f} ({100 * reach / budget:5.1f}% of budget)"
        lines.append(
            f"{titles.get(summary.name, summary.name):<20} {_mean_std(summary.accuracy[:, -1]):>15} "
            f"{_mean_std(summary.macro_f1[:, -1]):>15} {len(summary.accuracy):>5}  {saving}"
        )
    return "\n".join(lines)
