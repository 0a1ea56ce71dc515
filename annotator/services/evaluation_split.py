"""The held-out evaluation split for projects that import no labeled test faces: a random sample of the pool.

Without test labels there is no learning curve and no confusion matrix, and a curve
measured on faces a strategy picked would flatter it. So when labeling starts on a project
with no labeled test face, a random sample of the pool (``Project.test_sample_size``;
empty: 5% of the pool, at most 500) moves to the test split and is queued first in cycle
0, before the initial batch. Its votes are its test labels: they spend the budget like any
vote, and the bridge evaluates on them but never trains on test faces nor selects them.
"""

from __future__ import annotations

import random

from annotator.models import Face, Project, Split
from annotator.selectors.evaluation_split import labeled_test_faces, sample_size


def reserve_test_sample(project: Project) -> list[int]:
    """The faces to queue first as the test set, when the project has no labeled test face.

    Unlabeled test faces that were imported come first (their votes label them too); a
    seeded random sample of the pool fills the rest of the sample size and moves to the
    test split. Returns nothing when test labels were imported, or the size is 0.
    """
    if labeled_test_faces(project):
        return []
    imported = Face.objects.filter(project=project, split=Split.TEST, excluded=False).order_by("id")
    pool = list(
        Face.objects.filter(project=project, split=Split.POOL, excluded=False)
        .order_by("id")
        .values_list("id", flat=True)
    )
    size = sample_size(project, len(pool) + imported.count())
    queued = list(imported.values_list("id", flat=True)[:size])
    chosen = random.Random(f"test sample {project.seed}").sample(pool, size - len(queued))
    Face.objects.filter(pk__in=chosen).update(split=Split.TEST)
    # A pool face imported with a label is a labeled test face once it moves: it needs no votes
    # (and takes none: votes.submit_vote refuses labeled test faces), so it is not queued.
    needs_votes = set(
        Face.objects.filter(pk__in=chosen, imported_label__isnull=True).values_list("id", flat=True)
    )
    return queued + [face_id for face_id in chosen if face_id in needs_votes]
