"""What a project's held-out evaluation split (the test set) is or will be, in numbers and words. No writes.

Labeling reserves a random sample of the pool as the test set when no labeled test face was
imported (:mod:`annotator.services.evaluation_split` does it); these reads say how large that sample
is, how many test faces have labels, and what the import response and the dashboard tell the owner.
"""

from __future__ import annotations

import math

from django.db.models import Q

from annotator.models import Face, Project, Split

DEFAULT_FRACTION = 0.05
DEFAULT_CAP = 500


def labeled_test_faces(project: Project) -> int:
    """Test faces with a label: imported with one, or voted (a reserved sample)."""
    labeled = Q(imported_label__isnull=False) | Q(label_index__isnull=False)
    return Face.objects.filter(labeled, project=project, split=Split.TEST).count()


def sample_size(project: Project, pool_size: int) -> int:
    """Faces to reserve: the project's setting, or 5% of the pool (at least one) capped at 500.

    At most half the pool and half the faces the budget pays for, so the initial batch
    still has faces to draw and votes to spend.
    """
    wanted = project.test_sample_size
    if wanted is None:
        wanted = min(DEFAULT_CAP, math.ceil(DEFAULT_FRACTION * pool_size))
    return max(0, min(wanted, pool_size // 2, project.budget_votes // project.votes_per_face // 2))


def plan(project: Project) -> dict[str, object]:
    """What the project's test set is or will be, in numbers and words, for the import response."""
    labeled = labeled_test_faces(project)
    test = Face.objects.filter(project=project, split=Split.TEST)
    pending = test.filter(imported_label__isnull=True, label_index__isnull=True, queue_entries__isnull=False)
    pending_count = pending.distinct().count()
    reserved = 0
    if pending_count:
        message = (
            f"{pending_count} test faces wait for labels: they are queued first, labeled by votes and "
            "never trained on; the learning curve starts when they have them."
        )
    elif labeled:
        message = f"{labeled} labeled test faces: every learning curve is measured on them."
    elif project.cycles.exists():
        message = "No labeled test faces: there is no learning curve."
    else:
        pool = Face.objects.filter(project=project, split=Split.POOL, excluded=False).count()
        reserved = sample_size(project, pool + test.count())
        message = (
            f"No labeled test faces: when labeling starts, {reserved} random pool faces are reserved as the "
            "test set, labeled first, counted in the budget and never trained on."
            if reserved
            else "No labeled test faces and a test sample size of 0: there will be no learning curve."
        )
    return {
        "labeled_test_faces": labeled,
        "waiting_for_labels": pending_count,
        "reserved_on_start": reserved,
        "message": message,
    }
