"""Simulation bookkeeping: cycle sizes, the CSV, resuming and the labels-to-reach column."""

from __future__ import annotations

import numpy as np
import pytest

from ml_engine.simulation.oracle_loop import CycleRecord, LoopSettings
from ml_engine.simulation.results import (
    append_record,
    completed_runs,
    format_table,
    labels_to_reach,
    read_records,
    summarise,
)
from ml_engine.training import TrainConfig


def _record(strategy: str, seed: int, cycle: int, accuracy: float) -> CycleRecord:
    return CycleRecord(strategy, seed, cycle, 100 + 50 * cycle, accuracy, accuracy / 2, 1.0, 0.5)


def test_batch_sizes_spend_the_budget_exactly():
    settings = LoopSettings(initial_size=2870, cycles=7, budget=11480, train=TrainConfig())
    assert settings.batch_sizes() == [1435] * 6  # seed 000's FER13 schedule
    assert LoopSettings(10, 4, 21, TrainConfig()).batch_sizes() == [4, 4, 3]
    with pytest.raises(ValueError):
        LoopSettings(30, 3, 20, TrainConfig()).batch_sizes()


def test_labels_to_reach_interpolates_between_cycles():
    labels = np.array([100, 150, 200])
    assert labels_to_reach(labels, np.array([0.5, 0.6, 0.7]), 0.65) == pytest.approx(175.0)
    assert labels_to_reach(labels, np.array([0.7, 0.8, 0.9]), 0.65) == 100.0
    assert labels_to_reach(labels, np.array([0.5, 0.55, 0.6]), 0.65) is None


def test_csv_keeps_the_latest_row_and_finds_complete_runs(tmp_path):
    path = tmp_path / "results.csv"
    for record in [_record("random", 0, 0, 0.4), _record("random", 0, 1, 0.5), _record("margin", 0, 0, 0.1)]:
        append_record(path, record)
    append_record(path, _record("margin", 0, 0, 0.45))  # a rerun of an interrupted run supersedes
    records = read_records(path)
    assert len(records) == 3 and path.read_text().count("strategy") == 1
    assert [r.accuracy for r in records if r.strategy == "margin"] == [0.45]
    assert completed_runs(records, cycles=2) == {("random", 0)}


def test_table_reports_mean_std_and_labels_to_reach_random():
    records = [_record("random", s, c, a) for s in (0, 1) for c, a in enumerate([0.4, 0.5, 0.6])]
    records += [_record("least_confidence", s, c, a) for s in (0, 1) for c, a in enumerate([0.4, 0.6, 0.7])]
    summaries = summarise(records, ["random", "least_confidence", "badge"], cycles=3)
    assert [s.name for s in summaries] == ["random", "least_confidence"]
    assert summaries[0].labels_to_reach == pytest.approx(200.0)
    assert summaries[1].labels_to_reach == pytest.approx(150.0)
    table = format_table(summaries, {"random": "Random Sampling", "least_confidence": "Least Confidence"})
    assert "Random Sampling" in table and " 70.00 ±  0.00" in table and "150 ( 75.0% of budget)" in table
