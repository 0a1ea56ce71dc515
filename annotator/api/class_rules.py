"""Class-list and name checks shared by project creation, class replacement and notes: each reason on its field."""

from __future__ import annotations

from rest_framework import serializers

from annotator.services import project_classes, projects
from annotator.services.names import name_problem


def validated_classes(classes: list[dict]) -> list[dict]:
    """Refuse duplicate names and keys and reserved keys, with the reason on the field at fault.

    Raises:
        serializers.ValidationError: one dict per class, field name to its reasons.
    """
    specs = [projects.ClassSpec(c["name"], c.get("key", ""), c.get("color", "")) for c in classes]
    problems = project_classes.class_problems(specs)
    if any(problems):
        raise serializers.ValidationError(
            [{field: [reason] for field, reason in row.items()} for row in problems]
        )
    return classes


def printable_name(value: str, *, multiline: bool = False) -> str:
    """``value`` when it holds no control or direction-changing character (:mod:`annotator.services.names`).

    Raises:
        serializers.ValidationError: naming the character, for the field being validated.
    """
    problem = name_problem(value, multiline=multiline)
    if problem:
        raise serializers.ValidationError(problem)
    return value
