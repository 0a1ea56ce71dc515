"""The settings' choices are the engine's registries, name for name, both ways.

The Django choices cannot be built from the registries: ``annotator.models`` may import neither
``ml_engine`` nor ``annotator.ml_bridge`` (import-linter's contracts), and migrations freeze
each choice list anyway. So each list is kept by hand, and checked here against its registry:
a name the engine lacks would fail a training, a name the settings lack is never offered.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from annotator.models import AuxiliaryTask, InitialSelection, ModelName, SslMethod, Strategy

READ_REGISTRIES = """
import json
from ml_engine.cold_start import COLD_START_METHODS
from ml_engine.models import list_models
from ml_engine.ssl import list_methods
from ml_engine.strategies import STRATEGIES
from ml_engine.training.auxiliary_tasks import AUXILIARY_TASKS
print(json.dumps({
    "strategies": list(STRATEGIES),
    "ssl_methods": list_methods(),
    "models": list_models(),
    "initial_selections": list(COLD_START_METHODS),
    "auxiliary_tasks": list(AUXILIARY_TASKS),
}))
"""

CHOICES = {
    "strategies": set(Strategy.values),
    "ssl_methods": set(SslMethod.values) - {SslMethod.NONE},  # "none" turns pre-training off
    "models": set(ModelName.values),
    "initial_selections": set(InitialSelection.values),
    "auxiliary_tasks": set(AuxiliaryTask.values),
}


@pytest.fixture(scope="module")
def registries() -> dict[str, list[str]]:
    """Read in a fresh interpreter: tests may register models or methods of their own in this one."""
    read = subprocess.run([sys.executable, "-c", READ_REGISTRIES], capture_output=True, text=True, check=True)
    return json.loads(read.stdout)


@pytest.mark.parametrize("registry", sorted(CHOICES))
def test_every_choice_is_registered_in_the_engine(registries, registry):
    assert CHOICES[registry] - set(registries[registry]) == set()


@pytest.mark.parametrize("registry", sorted(CHOICES))
def test_every_registered_name_is_a_choice(registries, registry):
    assert set(registries[registry]) - CHOICES[registry] == set()
