"""Class lists: the presets of the common FER data sets, per-field checks, and changing classes.

The checks name the class row and the field at fault, so the new-project page can show each
reason next to its field; :func:`annotator.services.projects.create_project` enforces the
same rules for every other caller.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from annotator.models import ModelVersion, Project, ProjectClass, Vote
from annotator.services.errors import Conflict
from annotator.services.names import class_name_problem, name_problem
from annotator.services.projects import PALETTE, RESERVED_KEYS, ClassSpec, _resolved

PRESETS: dict[str, tuple[str, ...]] = {
    "ferplus": ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"),
    "fer2013": ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"),
    "rafdb": ("surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral"),
    "affectnet": ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt"),
}
"""Class names in each data set's own label order, so imported labels map by index and by name."""

PRESET_TITLES = {
    "ferplus": "FERPlus (8 classes)",
    "fer2013": "FER2013 (7 classes)",
    "rafdb": "RAF-DB basic (7 classes)",
    "affectnet": "AffectNet (8 classes)",
}

RESERVED_KEY_NAMES = {"u": "unsure", "s": "skip", "z": "undo", " ": "confirm"}


def class_problems(specs: Sequence[ClassSpec]) -> list[dict[str, str]]:
    """One dict per class: field name to the reason it is refused (empty dicts when all is well)."""
    problems: list[dict[str, str]] = [{} for _ in specs]
    seen_names: dict[str, int] = {}
    seen_keys: dict[str, int] = {}
    for index, spec in enumerate(specs):
        name, key = spec.name.strip().lower(), spec.key.lower()
        if not name:
            problems[index]["name"] = "A class needs a name."
        elif problem := class_name_problem(spec.name):
            problems[index]["name"] = problem
        elif name in seen_names:
            problems[index]["name"] = (
                f"Names must be distinct: class {seen_names[name] + 1} already has this name."
            )
        seen_names.setdefault(name, index)
        if problem := name_problem(spec.key):
            problems[index]["key"] = problem
        elif key in RESERVED_KEYS:
            use = RESERVED_KEY_NAMES.get(key, "another action")
            problems[index]["key"] = f"This key is reserved: the labeling page uses it for {use}."
        elif key and key in seen_keys:
            problems[index]["key"] = (
                f"Keys must be distinct: class {seen_keys[key] + 1} already uses this key."
            )
        elif len(key) > 1:
            problems[index]["key"] = "A key is one character."
        if key:
            seen_keys.setdefault(key, index)
    return problems


def default_specs(preset: str) -> list[ClassSpec]:
    names = PRESETS[preset]
    keys = "123456789"
    return [ClassSpec(name, keys[i], PALETTE[i % len(PALETTE)]) for i, name in enumerate(names)]


def classes_locked_reason(project: Project) -> str | None:
    """Why the classes may no longer change (votes or models index them), or None while they may."""
    if Vote.objects.filter(project=project).exists():
        return "Votes exist: each vote names a class by its position, so the classes are fixed."
    if ModelVersion.objects.filter(project=project).exists():
        return "A model was trained on these classes; its outputs are indexed by them."
    return None


@transaction.atomic
def replace_classes(project: Project, specs: Sequence[ClassSpec]) -> list[ProjectClass]:
    """Replace the classes of a project nobody has voted on yet.

    Raises:
        InvalidInput: the same rules as for a new project.
        Conflict: votes or model versions exist.
    """
    Project.objects.select_for_update().filter(pk=project.pk).first()
    locked = classes_locked_reason(project)
    if locked:
        raise Conflict(locked)
    resolved = _resolved(specs)
    project.classes.all().delete()
    return ProjectClass.objects.bulk_create(
        ProjectClass(project=project, index=i, name=spec.name, key=spec.key, color=spec.color)
        for i, spec in enumerate(resolved)
    )
