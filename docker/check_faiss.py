"""Fail an image's build unless it holds exactly one faiss build, of the release pyproject.toml pins.

faiss-cpu and faiss-gpu both install the ``faiss`` module; with both installed, whichever came
last has overwritten part of the other's files, and ``import faiss`` loads a mix. The GPU image
replaces faiss-cpu by the ``gpu`` extra's faiss-gpu, which must be the same release as the CPU
image's faiss-cpu, so the web server, the CPU workers and the GPU workers (and the tests) run one
faiss. Run in the image (docker/Dockerfile) as ``python docker/check_faiss.py cpu|gpu``.
"""

from __future__ import annotations

import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
FAISS_DISTRIBUTION = re.compile(r"^faiss([-_].*)?$", re.IGNORECASE)
PIN = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)(\[[^]]*\])?==(?P<version>\S+)$")


def pinned_faiss(pyproject: Path = PYPROJECT) -> dict[str, tuple[str, str]]:
    """``{"cpu": (name, version), "gpu": (name, version)}`` from the dependencies and the ``gpu`` extra."""
    project = tomllib.loads(pyproject.read_text())["project"]
    found = {}
    for kind, requirements in (
        ("cpu", project["dependencies"]),
        ("gpu", project["optional-dependencies"]["gpu"]),
    ):
        for requirement in requirements:
            match = PIN.match(requirement.replace(" ", ""))
            if match and FAISS_DISTRIBUTION.match(match["name"]):
                found[kind] = (match["name"].lower(), match["version"])
    return found


def installed_faiss() -> dict[str, str]:
    """Every installed distribution named faiss or faiss-*, with its version."""
    return {
        distribution.metadata["Name"].lower(): distribution.version
        for distribution in importlib.metadata.distributions()
        if FAISS_DISTRIBUTION.match(distribution.metadata["Name"] or "")
    }


def problems(
    kind: str, pins: dict[str, tuple[str, str]], installed: dict[str, str], has_gpu: bool
) -> list[str]:
    """What is wrong with the faiss of a ``kind`` image (``cpu`` or ``gpu``); empty when nothing is."""
    found = []
    if pins["cpu"][1] != pins["gpu"][1]:
        found.append(
            f"pyproject.toml pins {pins['cpu'][0]} {pins['cpu'][1]} but {pins['gpu'][0]} {pins['gpu'][1]}"
        )
    name, version = pins[kind]
    if installed != {name: version}:
        found.append(f"expected only {name} {version}, found {installed or 'no faiss'}")
    if kind == "gpu" and not has_gpu:
        found.append("the faiss module has no GPU support (StandardGpuResources is missing)")
    return found


def main(kind: str) -> int:
    import faiss

    found = problems(kind, pinned_faiss(), installed_faiss(), hasattr(faiss, "StandardGpuResources"))
    for problem in found:
        print(f"faiss check ({kind}): {problem}", file=sys.stderr)
    if not found:
        print(f"faiss {faiss.__version__}, {kind} build, the only one installed")
    return 1 if found else 0


if __name__ == "__main__":
    if sys.argv[1:] not in (["cpu"], ["gpu"]):
        sys.exit("usage: python docker/check_faiss.py cpu|gpu")
    sys.exit(main(sys.argv[1]))
