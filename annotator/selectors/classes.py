"""A project's class names in index order, as trainings, comparisons and exports read them. No writes."""

from __future__ import annotations

from annotator.models import Project


def class_names(project: Project) -> tuple[str, ...]:
    """The project's class names, the one at index ``i`` ``i``-th."""
    return tuple(project.classes.order_by("index").values_list("name", flat=True))
