"""``manage.py seed_demo``: the demo owner and a project of synthetic faces, ready to label.

Idempotent: a second run finds the user, the project, its faces (by pixel checksum) and its
first cycle, and creates nothing new; it never changes a password or deletes anything.
"""

from __future__ import annotations

import numpy as np
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from annotator import ml_bridge
from annotator.models import InitialSelection, Project
from annotator.services import imports, labeling_start, projects

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo"
DEMO_PROJECT = "Demo: synthetic faces"
DEMO_FACES = 300
DEMO_TEST_FACES = 60
DEMO_SEED = 0


class Command(BaseCommand):
    help = "Create the demo user (demo/demo) and a project of synthetic faces with a labeled test split."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--faces", type=int, default=DEMO_FACES, help="faces in the demo project")

    def handle(self, *args, faces: int, **options) -> None:
        user = self._demo_user()
        project = self._demo_project(user)
        if project.faces.count() < faces:
            dataset = ml_bridge.synthetic_faces(faces, seed=DEMO_SEED)
            test = min(DEMO_TEST_FACES, faces // 5)
            dataset.splits = np.array(["test"] * test + ["pool"] * (faces - test), dtype=object)
            summary = imports.import_dataset(project, dataset, split="auto")
            self.stdout.write(f"imported {summary.created} faces ({summary.duplicates} already there)")
        cycle = labeling_start.start_labeling(project)
        self.stdout.write(
            f"demo ready: user {DEMO_USERNAME!r}, project {project.pk} {project.name!r}, "
            f"{project.faces.count()} faces, cycle {cycle.number} with {cycle.batch_size} faces"
        )

    def _demo_user(self):
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=DEMO_USERNAME, defaults={"is_staff": True, "is_superuser": True}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        return user

    @transaction.atomic
    def _demo_project(self, user) -> Project:
        existing = Project.objects.filter(owner=user, name=DEMO_PROJECT).first()
        if existing is not None:
            return existing
        names = ml_bridge.synthetic_faces(1, seed=DEMO_SEED).class_names
        return projects.create_project(
            user,
            name=DEMO_PROJECT,
            description="Synthetic faces from ml_engine's generator; the test split is labeled.",
            classes=projects.default_class_specs(names),
            budget_votes=100,
            votes_per_face=1,
            initial_set_size=25,
            batch_size=25,
            seed=DEMO_SEED,
            # Ready to label at once: the measured default's representative first batch would wait
            # for pre-training, which on a few hundred faces runs FACELOOP_PRETRAIN_MIN_STEPS steps.
            initial_selection=InitialSelection.RANDOM,
        )
