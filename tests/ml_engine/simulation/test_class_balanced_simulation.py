"""``simulate --class-balanced`` runs each strategy beside its class-balanced variant."""

from __future__ import annotations

import numpy as np

from ml_engine.cli.simulate import _strategy_names
from ml_engine.simulation.results import read_records


def test_the_variants_follow_their_strategies_once():
    assert _strategy_names("random,margin", False) == ["random", "margin"]
    assert _strategy_names("random,margin", True) == [
        "random",
        "random+balanced",
        "margin",
        "margin+balanced",
    ]
    assert _strategy_names("margin+balanced", True) == ["margin+balanced"]


def test_command_line_runs_the_balanced_variant(tmp_path, capsys):
    from ml_engine.__main__ import main

    options = (
        "--data 40 --format synthetic --strategies least_confidence --class-balanced --seeds 0"
        " --initial 25% --cycles 2 --budget 16 --model small_cnn --image-size 16 --epochs 1"
        " --batch-size 8 --device cpu"
    )
    argv = ["simulate", "--out", str(tmp_path), *options.split()]
    assert main(argv) == 0
    output = capsys.readouterr().out
    assert "Least Confidence (class-balanced)" in output
    records = read_records(tmp_path / "results.csv")
    assert {len(record.per_class_recall) for record in records} == {7}  # one per synthetic expression
    assert all(
        0.0 <= value <= 1.0 or np.isnan(value) for record in records for value in record.per_class_recall
    )
    assert all(sum(record.labeled_per_class) == record.labels for record in records)
    runs = {(record.strategy, record.cycle, record.labels) for record in records}
    assert runs == {
        ("least_confidence", 0, 8),
        ("least_confidence", 1, 16),
        ("least_confidence+balanced", 0, 8),
        ("least_confidence+balanced", 1, 16),
    }
