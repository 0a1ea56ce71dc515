"""Labels per class and per split, as the dashboard draws them: the pool's (what models train
on) apart from the test set's (what they are measured on), which one chart once mixed. No writes."""

from __future__ import annotations

from django.db.models import Count
from django.db.models.functions import Coalesce

from annotator.models import Face, Project, Split
from annotator.selectors import evaluation_split


def _final_labels(project: Project, split: str) -> dict[int, int]:
    # A test face's label may also be imported with it (imported labels of pool faces are not labels).
    sources = ("reviewed_label", "label_index") + (("imported_label",) if split == Split.TEST else ())
    return dict(
        Face.objects.filter(project=project, split=split, excluded=False)
        .annotate(final=Coalesce(*sources))
        .filter(final__isnull=False)
        .values_list("final")
        .annotate(n=Count("id"))
    )


def labels_per_class(project: Project) -> list[dict[str, object]]:
    """Faces per final label (a review's where there is one, else the votes'), the pool's (``labels``:
    what models train on) apart from the test set's (``test_labels``: what they are measured on).
    Excluded faces are left out."""
    pool, test = _final_labels(project, Split.POOL), _final_labels(project, Split.TEST)
    return [
        {
            "index": c.index,
            "name": c.name,
            "color": c.color,
            "labels": pool.get(c.index, 0),
            "test_labels": test.get(c.index, 0),
        }
        for c in project.classes.all()
    ]


def unsure_faces(project: Project, split: str) -> int:
    """Voted faces of ``split`` whose votes have no majority and no review gave them a label."""
    unlabeled = {"label_index__isnull": True, "reviewed_label__isnull": True}
    if split == Split.TEST:
        unlabeled["imported_label__isnull"] = True
    return Face.objects.filter(
        project=project, split=split, excluded=False, vote_count__gt=0, **unlabeled
    ).count()


def learning_curve_basis(project: Project) -> dict[str, object]:
    """How many test faces the learning curve rests on: labeled ones out of the test set."""
    total = Face.objects.filter(project=project, split=Split.TEST, excluded=False).count()
    labeled = evaluation_split.labeled_test_faces(project)
    return {
        "labeled": labeled,
        "total": total,
        "sentence": f"Measured on {labeled} of {total} test faces labeled." if total else "No test set.",
    }
