"""End-to-end simulation on tiny synthetic faces: CSV, plot, table, resume, pluggable initial set."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from ml_engine.data.synthetic import generate_faces
from ml_engine.simulation.comparison import simulate, split_pool_and_test
from ml_engine.simulation.oracle_loop import LoopSettings
from ml_engine.simulation.results import read_records
from ml_engine.training import TrainConfig


@pytest.fixture(scope="module")
def faces():
    return split_pool_and_test(generate_faces(72, seed=0, size=16, votes_per_face=0), test_fraction=0.25)


def _settings() -> LoopSettings:
    train = TrainConfig(model="small_cnn", image_size=16, epochs=1, batch_size=8, augment=False)
    return LoopSettings(initial_size=12, cycles=2, budget=24, train=train, device="cpu")


def test_two_cycles_write_results_and_resume(faces, tmp_path):
    pool, test = faces
    lines: list[str] = []
    report = simulate(
        pool, test, ["random", "least_confidence"], [0], _settings(), tmp_path, log=lines.append
    )
    records = read_records(report.csv_path)
    assert [(r.strategy, r.cycle, r.labels) for r in records] == [
        ("least_confidence", 0, 12),
        ("least_confidence", 1, 24),
        ("random", 0, 12),
        ("random", 1, 24),
    ]
    by_cycle = {(r.strategy, r.cycle): r for r in records}
    # Same seed, same initial set, same training: the strategies only differ after selecting.
    assert by_cycle[("random", 0)].accuracy == by_cycle[("least_confidence", 0)].accuracy
    assert report.plot_path.stat().st_size > 0 and "Least Confidence" in report.table
    assert len(lines) == 4

    # Interrupt least_confidence after its first cycle: rerunning redoes only that run.
    rows = report.csv_path.read_text().splitlines()
    report.csv_path.write_text(
        "\n".join(line for line in rows if not line.startswith("least_confidence,0,1,")) + "\n"
    )
    lines.clear()
    simulate(pool, test, ["random", "least_confidence"], [0], _settings(), tmp_path, log=lines.append)
    assert lines[0].endswith("random seed 0: already complete, skipped")
    assert sum("least_confidence seed 0 cycle" in line for line in lines) == 2
    assert {(r.strategy, r.cycle) for r in read_records(report.csv_path)} == set(by_cycle)

    with pytest.raises(ValueError, match="other settings"):
        other = _settings()
        other.budget = 30
        simulate(pool, test, ["random"], [0], other, tmp_path, log=lines.append)


def test_initial_selection_is_pluggable_and_bald_needs_dropout(faces, tmp_path):
    pool, test = faces
    calls: list[tuple[int, int]] = []

    def first_faces(dataset, size, seed):
        calls.append((size, seed))
        return np.arange(size)

    settings = _settings()
    settings.cycles = 1
    settings.budget = 12
    report = simulate(
        pool, test, ["margin"], [4], settings, tmp_path, initial_selection=first_faces, log=lambda _: None
    )
    assert calls == [(12, 4)] and [r.labels for r in read_records(report.csv_path)] == [12]
    with pytest.raises(ValueError, match="dropout"):
        simulate(pool, test, ["bald"], [0], settings, tmp_path / "bald", log=lambda _: None)


@pytest.mark.parametrize("name", ["bald", "deepfool", "glister", "coreset"])
def test_pool_scoring_feeds_every_kind_of_strategy(faces, name):
    from ml_engine.models import create_model
    from ml_engine.simulation.pool_inputs import selection_inputs
    from ml_engine.strategies import get_strategy, select_batch

    pool, _ = faces
    torch.manual_seed(0)
    model = create_model("small_cnn", pool.num_classes, dropout=0.3, width=4)
    labeled = np.arange(0, len(pool), 5)
    inputs = selection_inputs(
        model, pool, labeled, get_strategy(name), image_size=16, device="cpu", mc_passes=4
    )
    picks = select_batch(name, inputs, 6, seed=0)
    assert len(set(picks.tolist())) == 6 and not set(picks.tolist()) & set(labeled.tolist())
    assert (inputs.mc_probabilities is not None) == (name == "bald")
    assert (inputs.images is not None) == (name == "deepfool")
    assert np.array_equal(inputs.labels >= 0, np.isin(np.arange(len(pool)), labeled))


def test_representative_cold_start_uses_the_pretrained_backbone(faces):
    from ml_engine.models import create_model
    from ml_engine.simulation.oracle_loop import initial_selection, random_initial_selection

    pool, _ = faces
    settings = _settings()
    assert initial_selection("random", pool, settings, None) is random_initial_selection
    with pytest.raises(ValueError, match="pre-trained weights"):
        initial_selection("kmeans", pool, settings, None)
    torch.manual_seed(0)
    weights = create_model("small_cnn", pool.num_classes).backbone.state_dict()
    picks = initial_selection("kmeans", pool, settings, weights)(pool, 12, 3)
    assert len(set(picks.tolist())) == 12 and picks.max() < len(pool)


def test_command_line_runs_and_resumes(tmp_path, capsys):
    from ml_engine.__main__ import main

    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "--help"])
    assert exit_info.value.code == 0
    argv = [
        "simulate",
        "--data",
        "40",
        "--format",
        "synthetic",
        "--out",
        str(tmp_path),
        "--strategies",
        "random,margin",
        "--seeds",
        "0",
        "--initial",
        "25%",
        "--cycles",
        "2",
        "--budget",
        "16",
        "--model",
        "small_cnn",
        "--image-size",
        "16",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--device",
        "cpu",
    ]
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert "pool 32 faces, test 8; initial 8, 2 cycles, budget 16; batches [8]" in first
    assert "Margin" in first and (tmp_path / "learning_curve.png").exists()
    assert main(argv) == 0
    assert capsys.readouterr().out.count("already complete, skipped") == 2


def test_warm_start_continues_from_the_previous_cycle(faces, monkeypatch):
    """Each later cycle gets the previous cycle's weights and the warm-start epochs, as the app."""
    from dataclasses import replace

    from ml_engine.simulation import oracle_loop

    calls, real_fit = [], oracle_loop.fit

    def recording_fit(config, train, **options):
        result = real_fit(config, train, **options)
        calls.append((config.epochs, options["initial_weights"], result.model.state_dict()))
        return result

    monkeypatch.setattr(oracle_loop, "fit", recording_fit)
    pool, test = faces
    settings = replace(_settings(), cycles=3, budget=30, train=replace(_settings().train, epochs=2))
    list(oracle_loop.run_strategy(pool, test, "random", 0, replace(settings, warm_start_epochs=1)))
    assert [epochs for epochs, _, _ in calls] == [2, 1, 1]
    assert calls[0][1] is None
    for (_, _, previous), (_, started_from, _) in itertools.pairwise(calls):
        assert all(torch.equal(previous[key], started_from[key]) for key in previous)
    calls.clear()
    list(oracle_loop.run_strategy(pool, test, "random", 0, settings))
    assert [(epochs, weights) for epochs, weights, _ in calls] == [(2, None)] * 3
