"""bench/gpu_smoke.py: on a machine without CUDA it says what it could not run and exits 2;
with --cpu its steps really run (and would report a failure)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "gpu_smoke.py"


def load_script():
    spec = importlib.util.spec_from_file_location("gpu_smoke", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the GPU checks run")
def test_without_cuda_it_names_what_it_could_not_run_and_runs_the_cpu_steps(capsys):
    smoke = load_script()

    status = smoke.main(["--cpu", "--model", "small_cnn", "--batch", "8", "--image-size", "32"])

    out = capsys.readouterr().out
    assert status == 2
    assert "could not run  AMP training step on the GPU: no CUDA device" in out
    assert "could not run  SSL step on the GPU: no CUDA device" in out
    assert "could not run  faiss search on the GPU" in out
    assert "ran            training step on the CPU" in out
    assert "ran            SSL step on the CPU" in out
    assert "ran            faiss search on the CPU" in out
    assert "FAILED" not in out
    assert "The GPU path was NOT exercised" in out


def test_a_failing_step_is_reported_and_fails_the_run(capsys, monkeypatch):
    smoke = load_script()

    def broken(*args, **kwargs):
        raise FloatingPointError("loss is nan")

    monkeypatch.setattr(smoke, "ssl_step", broken)
    status = smoke.main(["--cpu", "--model", "small_cnn", "--batch", "8", "--image-size", "32"])

    assert status == 1
    assert "FAILED         SSL step on the CPU: FloatingPointError: loss is nan" in capsys.readouterr().out
