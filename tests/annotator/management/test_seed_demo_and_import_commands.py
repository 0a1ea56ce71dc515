"""``seed_demo`` is idempotent; ``import_faces`` reads folders and reports problems."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from PIL import Image

from annotator.models import Cycle, Face, Job, JobState, Project, Split
from tests.annotator.factories import face_pixels, make_project

pytestmark = pytest.mark.django_db


def test_seed_demo_twice_creates_nothing_new_and_loses_nothing():
    call_command("seed_demo", "--faces", "30", stdout=io.StringIO())
    demo = get_user_model().objects.get(username="demo")
    assert demo.check_password("demo")
    project = Project.objects.get(owner=demo)
    counts = (Face.objects.count(), Face.objects.filter(split=Split.TEST).count(), Cycle.objects.count())
    assert counts == (30, 6, 1)
    demo.set_password("changed-by-the-user")
    demo.save()

    call_command("seed_demo", "--faces", "30", stdout=io.StringIO())

    assert (
        Face.objects.count(),
        Face.objects.filter(split=Split.TEST).count(),
        Cycle.objects.count(),
    ) == counts
    assert Project.objects.get() == project
    assert get_user_model().objects.get(username="demo").check_password("changed-by-the-user")
    assert not Face.objects.filter(split=Split.TEST, imported_label__isnull=True).exists()


def test_import_faces_reads_a_folder_and_reports_problems(tmp_path):
    project = make_project()
    folder = tmp_path / "faces"
    folder.mkdir()
    for seed in range(3):
        Image.fromarray(face_pixels(seed, 24)).save(folder / f"{seed}.png")
    (folder / "broken.jpg").write_bytes(b"nope")
    out, err = io.StringIO(), io.StringIO()

    call_command("import_faces", str(project.pk), str(folder), "--split", "pool", stdout=out, stderr=err)

    assert "imported 3 faces" in out.getvalue()
    assert "broken.jpg" in err.getvalue()
    assert Face.objects.filter(project=project, split=Split.POOL).count() == 3
    assert Job.objects.get().state == JobState.SUCCEEDED
    call_command("import_faces", str(project.pk), str(folder), stdout=out, stderr=err)
    assert "3 duplicates skipped" in out.getvalue()


def test_import_faces_refuses_an_unknown_project(tmp_path):
    with pytest.raises(CommandError, match="no project 999"):
        call_command("import_faces", "999", str(tmp_path))
