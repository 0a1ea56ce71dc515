"""The database the labeling-load benches serve: one project whose open batch people label by API token.

Rows only: the image files are not written, since the simulated labelers never fetch them.
"""

from __future__ import annotations

import os
from pathlib import Path


def setup_labeling_database(var_dir: Path, pool: int, batch: int, people: int) -> tuple[int, list[str]]:
    """Migrate a fresh database under ``var_dir``: ``pool`` faces, ``batch`` of them open, ``people`` API tokens.

    Labeling opens at once (a random first batch, no pre-training). Returns the project id and
    the tokens; the connections are closed, so the database file can be copied.
    """
    os.environ["FACELOOP_VAR_DIR"] = str(var_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotator.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connections
    from rest_framework.authtoken.models import Token

    from annotator.models import Face, Membership, Role
    from annotator.services import labeling_start, projects

    call_command("migrate", verbosity=0)
    owner = get_user_model().objects.create_user("owner", password="owner-pass")
    names = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear")
    project = projects.create_project(
        owner,
        name="labeling load",
        classes=projects.default_class_specs(names),
        budget_votes=10 * pool,
        initial_set_size=batch,
        batch_size=batch,
        ssl_method="none",
        initial_selection="random",  # labeling opens at once: no pre-training to wait for
    )
    faces = [
        Face(project=project, image=f"bench/{i}.png", sha256=f"{i:064x}", width=48, height=48)
        for i in range(pool)
    ]
    Face.objects.bulk_create(faces, batch_size=5_000)
    labeling_start.start_labeling(project)
    tokens = []
    for i in range(people):
        user = get_user_model().objects.create_user(f"labeler{i}", password="x")
        Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
        tokens.append(Token.objects.create(user=user).key)
    connections.close_all()
    return project.pk, tokens
