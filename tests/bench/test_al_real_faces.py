"""bench/al_real_faces.py: a row's results folder and its training settings."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch):
    spec = importlib.util.spec_from_file_location("al_real_faces", BENCH / "al_real_faces.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "al_real_faces", module)  # its dataclasses look it up
    spec.loader.exec_module(module)
    return module


def test_rows_that_train_differently_never_share_a_results_folder(bench) -> None:
    """Rows differing in anything but the strategy share a folder only if they train alike:
    results measured under one step floor must not be read back as another's."""
    rows = bench.ABLATION_ROWS + bench.ALL_ROWS
    for row in rows:
        for other in rows:
            if row.group == other.group:
                assert replace(row, strategy=other.strategy) == other


def test_a_rows_floor_reaches_its_training_and_its_title(bench) -> None:
    args = argparse.Namespace(model="resnet18", image_size=48, epochs=8, batch_size=20, lr=0.01, cycles=4)
    floor_row = bench.ABLATION_ROWS[9]
    assert floor_row == replace(bench.COMBINATION, min_steps=1000)
    assert bench.loop_settings(args, floor_row, 5000, "cpu").train.min_steps == 1000
    assert bench.loop_settings(args, bench.COMBINATION, 5000, "cpu").train.min_steps == 500
    assert bench.loop_settings(args, bench.BASELINE, 5000, "cpu").train.min_steps == 0
    assert "1,000-step floor" in floor_row.title and "floor" not in bench.COMBINATION.title
    assert floor_row.group != bench.COMBINATION.group
