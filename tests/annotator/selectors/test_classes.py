"""Class names in index order: what a model's output ``i`` means, whatever order the rows were written in."""

from __future__ import annotations

import pytest

from annotator.models import ProjectClass
from annotator.selectors.classes import class_names
from tests.annotator.factories import make_project

pytestmark = pytest.mark.django_db


def test_class_names_follow_the_index_not_the_rows_order():
    project = make_project(classes=("joy", "anger"))
    ProjectClass.objects.filter(project=project).delete()
    ProjectClass.objects.create(project=project, index=1, name="anger", key="2")  # first row, not first name
    ProjectClass.objects.create(project=project, index=0, name="joy", key="1")

    assert class_names(project) == ("joy", "anger")


def test_class_names_are_only_the_projects_own():
    project = make_project(classes=("anger", "joy"))
    make_project(classes=("fear", "disgust", "contempt"))

    assert class_names(project) == ("anger", "joy")
