"""One faiss per image, of one release: the GPU image's faiss-gpu replaces faiss-cpu, same version."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import yaml

DOCKER = Path(__file__).resolve().parents[2] / "docker"
spec = importlib.util.spec_from_file_location("check_faiss", DOCKER / "check_faiss.py")
assert spec is not None and spec.loader is not None
check_faiss = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_faiss)

PINS = {"cpu": ("faiss-cpu", "1.15.1"), "gpu": ("faiss-gpu", "1.15.1")}


def test_pyproject_pins_the_cpu_and_gpu_builds_of_one_release() -> None:
    pins = check_faiss.pinned_faiss()
    assert pins["cpu"][0] == "faiss-cpu" and pins["gpu"][0] == "faiss-gpu"
    assert pins["cpu"][1] == pins["gpu"][1]


def test_a_clean_image_of_either_kind_passes() -> None:
    assert check_faiss.problems("cpu", PINS, {"faiss-cpu": "1.15.1"}, has_gpu=False) == []
    assert check_faiss.problems("gpu", PINS, {"faiss-gpu": "1.15.1"}, has_gpu=True) == []


def test_two_builds_side_by_side_another_release_or_no_gpu_support_fail() -> None:
    beside = check_faiss.problems("gpu", PINS, {"faiss-cpu": "1.15.1", "faiss-gpu": "1.15.1"}, has_gpu=True)
    assert beside == ["expected only faiss-gpu 1.15.1, found {'faiss-cpu': '1.15.1', 'faiss-gpu': '1.15.1'}"]
    older = {"cpu": PINS["cpu"], "gpu": ("faiss-gpu-cu12", "1.14.1.post1")}
    assert check_faiss.problems("gpu", older, {"faiss-gpu-cu12": "1.14.1.post1"}, has_gpu=True) == [
        "pyproject.toml pins faiss-cpu 1.15.1 but faiss-gpu-cu12 1.14.1.post1"
    ]
    assert check_faiss.problems("gpu", PINS, {"faiss-gpu": "1.15.1"}, has_gpu=False) == [
        "the faiss module has no GPU support (StandardGpuResources is missing)"
    ]
    assert check_faiss.problems("cpu", PINS, {}, has_gpu=False) == [
        "expected only faiss-cpu 1.15.1, found no faiss"
    ]


def test_this_environment_passes_the_check_the_cpu_image_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(DOCKER / "check_faiss.py"), "cpu"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("faiss 1.15.1, cpu build, the only one installed")


def test_the_gpu_image_uninstalls_faiss_cpu_before_installing_the_gpu_extra_and_checks() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text()
    uninstall = dockerfile.index("pip uninstall -y faiss-cpu")
    install = dockerfile.index('["optional-dependencies"]["gpu"]')
    assert uninstall < install < dockerfile.index("docker/check_faiss.py gpu")
    assert "docker/check_faiss.py cpu" in dockerfile
    assert "COPY bench ./bench" in dockerfile  # bench/gpu_smoke.py runs in the GPU worker's image


def test_the_gpu_override_builds_with_faiss_gpu_and_the_smoke_test_names_it() -> None:
    gpu = yaml.safe_load((DOCKER / "compose.gpu.yaml").read_text())
    assert gpu["x-gpu-build"]["args"]["FAISS"] == "gpu"
    assert all(spec["build"]["args"]["FAISS"] == "gpu" for spec in gpu["services"].values())
    smoke = (DOCKER.parent / "bench" / "gpu_smoke.py").read_text()
    assert (
        "-f docker/compose.gpu.yaml" in smoke
        and "run --rm --no-deps worker-train python bench/gpu_smoke.py" in smoke
    )
