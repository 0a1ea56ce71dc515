"""One spelling of a face's storage path: the model, the import service and the media view agree."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from annotator import ml_bridge
from annotator.media import resolve_media_path
from annotator.media_layout import MediaKind, face_image_name
from annotator.models import Face
from annotator.services import imports
from tests.annotator.factories import make_project

CHECKSUM = "ab" + "0" * 62


def test_a_face_is_stored_under_its_project_and_checksum() -> None:
    assert face_image_name(12, CHECKSUM) == f"projects/12/faces/ab/{CHECKSUM}.png"


@pytest.mark.django_db
def test_imported_faces_are_stored_where_the_media_view_serves_them() -> None:
    project = make_project()
    imports.import_dataset(project, ml_bridge.synthetic_faces(3, seed=0), split="pool")

    stored = list(Face.objects.filter(project=project))
    assert len(stored) == 3
    for face in stored:
        assert face.image.name == face_image_name(project.pk, face.sha256)
        media = resolve_media_path(face.image.name, Path(settings.MEDIA_ROOT))
        assert media is not None
        assert (media.project_id, media.kind) == (project.pk, MediaKind.FACES)
