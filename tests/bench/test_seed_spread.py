"""bench/seed_spread.py: the test set's part of a spread, on toy models with a known answer."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(BENCH))  # the bench imports its neighbour ferplus_subset
    spec = importlib.util.spec_from_file_location("seed_spread", BENCH / "seed_spread.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_expected_range_of_normals_is_the_control_chart_constant(bench) -> None:
    assert bench.expected_range(2) == pytest.approx(1.128, abs=0.01)
    assert bench.expected_range(3) == pytest.approx(1.693, abs=0.01)


def test_models_that_agree_on_every_face_have_no_test_sampling_range(bench) -> None:
    right = np.random.default_rng(0).random(3000) < 0.55
    assert bench.range_from_test_sampling(np.stack([right, right, right])) == 0.0


def test_independent_models_get_the_binomial_range(bench) -> None:
    """Three models right on independent 55% of 20,000 faces: each accuracy's test-sampling
    error is the binomial sqrt(p (1 - p) / n), and their expected range d_3 times that."""
    faces, accuracy = 20_000, 0.55
    right = np.random.default_rng(1).random((3, faces)) < accuracy
    binomial = np.sqrt(accuracy * (1 - accuracy) / faces)
    assert bench.range_from_test_sampling(right) == pytest.approx(1.693 * binomial, rel=0.03)


def test_models_that_disagree_less_leave_a_smaller_range(bench) -> None:
    rng = np.random.default_rng(2)
    shared = rng.random(5000) < 0.55
    flips = rng.random((3, 5000))
    close = np.where(flips < 0.05, ~shared, shared)
    far = np.where(flips < 0.3, ~shared, shared)
    assert bench.range_from_test_sampling(close) < bench.range_from_test_sampling(far)
