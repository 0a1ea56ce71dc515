"""Class-list checks shared by project creation and class replacement: each reason on its field."""

from __future__ import annotations

from rest_framework import serializers

from annotator.services import project_classes, projects


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
