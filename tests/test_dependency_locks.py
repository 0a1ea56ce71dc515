"""The lock files pin every package pyproject.toml names, at the version pyproject.toml pins."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(lock: Path) -> dict[str, str]:
    """``name -> version`` for each ``name==version`` line of a pip-compile output."""
    pins: dict[str, str] = {}
    for line in lock.read_text().splitlines():
        if line and not line.startswith((" ", "#", "-")):
            name, _, version = line.partition("==")
            pins[normalized(name)] = version.strip()
    return pins


def declared_pins(*groups: str) -> dict[str, str]:
    """``name -> version`` of pyproject.toml's ``main`` dependencies and the named extras."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    by_group = {"main": project["dependencies"], **project["optional-dependencies"]}
    pins: dict[str, str] = {}
    for line in (line for group in groups for line in by_group[group]):
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{line}: pin an exact version"
        pins[normalized(requirement.name)] = specifier.version
    return pins


@pytest.mark.parametrize(
    ("lock", "groups"), [("requirements.lock", ("main",)), ("requirements-dev.lock", ("main", "dev"))]
)
def test_each_declared_pin_is_locked_at_its_version(lock: str, groups: tuple[str, ...]) -> None:
    locked = locked_versions(ROOT / lock)
    declared = declared_pins(*groups)
    assert {name: locked.get(name) for name in declared} == declared


def test_the_dev_lock_keeps_every_version_of_the_main_lock() -> None:
    main = locked_versions(ROOT / "requirements.lock")
    dev = locked_versions(ROOT / "requirements-dev.lock")
    assert {name: dev.get(name) for name in main} == main


def test_a_lock_line_is_read_as_name_and_version(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    lock.write_text("# header\nDjango==5.2.19\n    # via faceloop\ntyping_extensions==4.16.0\n")
    assert locked_versions(lock) == {"django": "5.2.19", "typing-extensions": "4.16.0"}
