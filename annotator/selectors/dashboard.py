"""Everything the dashboard draws: labels per class, annotators and their agreement, the learning
curve, the crowd model, confirmations, reviews, the newest comparison. No writes.

Owners and reviewers see every annotator's figures (reviewers pick faces by the annotators'
reliability); an annotator sees only their own, like a colleague's pay slip would stay private.
"""

from __future__ import annotations

from collections import defaultdict

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db.models import Count, F, OuterRef, Q, Subquery

from annotator import ml_bridge
from annotator.assignment import current_cycle, cycle_progress
from annotator.models import (
    Face,
    Job,
    JobKind,
    JobState,
    Membership,
    ModelVersion,
    OfferState,
    Project,
    PseudoLabelOffer,
    Review,
    Role,
    Split,
    Strategy,
    VoteKind,
)
from annotator.selectors import annotator_figures, evaluation_split, training_speed
from annotator.selectors.budget import budget_status
from annotator.selectors.labels import labels_per_class, learning_curve_basis, unsure_faces
from annotator.selectors.model_versions import latest_model
from annotator.selectors.progress import live_votes


def annotator_stats(project: Project, only: User | None = None) -> list[dict[str, object]]:
    """Each annotator's figures (or ``only`` one's), as the team page shows them
    (:func:`~annotator.selectors.annotator_figures.annotator_figures`), and the votes they cast
    in the last hour (a count, not a rate); most votes first."""
    last_hour = annotator_figures.votes_in_last_hour(project)
    return [
        {
            "annotator": figures.username,
            "votes": figures.votes,
            "skips": figures.skips,
            "unsure": figures.unsure,
            "median_seconds": figures.median_seconds,
            "votes_last_hour": last_hour.get(annotator_id, 0),
        }
        for annotator_id, figures in annotator_figures.annotator_figures(project, only).items()
    ]


def agreement(project: Project) -> dict[str, object]:
    """Percent agreement and Fleiss' kappa over faces with two or more single-class votes."""
    table: dict[int, list[int]] = defaultdict(lambda: [0] * project.classes.count())
    counts = (
        live_votes(project)
        .filter(kind=VoteKind.LABEL)
        .values_list("face_id", "class_index")
        .annotate(n=Count("id"))
    )
    for face_id, class_index, n in counts:
        table[face_id][class_index] += n
    rows = [row for row in table.values() if sum(row) >= 2]
    return ml_bridge.vote_agreement(rows)


def learning_curve(project: Project) -> list[dict[str, object]]:
    """One point per model version: labels used against test accuracy and macro F1, and what its
    training started from ("scratch", "ssl" for the pre-trained backbone, "v<N>" for a warm start)."""
    return [
        {
            "version": version.version,
            "cycle": version.cycle.number if version.cycle else None,
            "labels_used": version.labels_used,
            "accuracy": version.metrics.get("accuracy"),
            "macro_f1": version.metrics.get("macro_f1"),
            "started_from": version.started_from,
        }
        for version in ModelVersion.objects.filter(project=project)
        .select_related("cycle")
        .order_by("version")
    ]


def annotator_reliability(
    project: Project, model: ModelVersion | None, only: User | None = None
) -> dict[str, object] | None:
    """The Dawid-Skene reliabilities the worker fitted with ``model`` (``None`` before any), by username."""
    if model is None or not model.crowd:
        return None
    rows = [row for row in model.crowd["annotators"] if only is None or row["annotator_id"] == only.pk]
    ids = [row["annotator_id"] for row in rows]
    names = dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "username"))
    return {
        "version": model.version,
        "shared_faces": model.crowd["shared_faces"],
        "annotators": [
            {**row, "annotator": names.get(row["annotator_id"], f"user {row['annotator_id']}")}
            for row in sorted(rows, key=lambda row: row["reliability"])
        ],
    }


def margin_history(project: Project) -> dict[str, object] | None:
    """Ada-CM's per-class margins after each epoch of the newest semi-supervised training."""
    job = (
        Job.objects.filter(
            project=project, kind=JobKind.TRAIN, state=JobState.SUCCEEDED, result__has_key="margins"
        )
        .order_by("-finished_at", "-id")
        .first()
    )
    if job is None:
        return None
    return {
        "model_version": job.result.get("model_version"),
        "classes": list(project.classes.order_by("index").values_list("name", "color")),
        "margins": job.result["margins"],
    }


def confirmation_stats(project: Project, only: User | None = None) -> dict[str, object]:
    """Pseudo-label offers by state, and per annotator (or ``only`` one) how many they confirmed and rejected."""
    by_state = dict(
        PseudoLabelOffer.objects.filter(project=project).values_list("state").annotate(n=Count("id"))
    )
    answered = PseudoLabelOffer.objects.filter(project=project, answered_by__isnull=False)
    per_annotator = (
        (answered if only is None else answered.filter(answered_by=only))
        .values("answered_by__username")
        .annotate(
            confirmed=Count("id", filter=Q(state=OfferState.CONFIRMED)),
            rejected=Count("id", filter=Q(state=OfferState.REJECTED)),
        )
        .order_by("answered_by__username")
    )
    return {
        "enabled": project.offer_confirmations,
        **{state: by_state.get(state, 0) for state in OfferState.values},
        "annotators": [
            {
                "annotator": row["answered_by__username"],
                "confirmed": row["confirmed"],
                "rejected": row["rejected"],
            }
            for row in per_annotator
        ],
    }


def omni_supervision_history(project: Project) -> list[dict[str, object]]:
    """Per model version trained with auxiliary faces: δ and the pseudo-labeled faces kept per class."""
    versions = ModelVersion.objects.filter(project=project).exclude(omni_supervision={}).order_by("version")
    records = versions.values_list("version", "omni_supervision")
    return [{"version": version, **record} for version, record in records]


def learning_curve_unavailable_reason(project: Project, model: ModelVersion | None) -> str | None:
    """Why the dashboard has no learning curve to draw yet, in words (None when it has one)."""
    test = evaluation_split.plan(project)
    if test["waiting_for_labels"] and not test["labeled_test_faces"]:
        return (
            f"No learning curve yet: the {test['waiting_for_labels']} faces of the test sample are labeled "
            "first, and the curve is measured on them."
        )
    if not test["labeled_test_faces"]:
        return test["message"]
    if model is None:
        return "No learning curve yet: its first point comes with the first trained model."
    return None


def latest_comparison(project: Project) -> dict[str, object] | None:
    """The newest finished strategy comparison's result (curves, sizes, sentence), or None."""
    job = (
        Job.objects.filter(project=project, kind=JobKind.COMPARE, state=JobState.SUCCEEDED)
        .order_by("-finished_at", "-id")
        .first()
    )
    if job is None:
        return None
    return {"job": job.pk, "finished_at": job.finished_at.isoformat(), **job.result}


FEW_LABELS_PER_CLASS = 20
"""A class with fewer labeled pool faces gets a warning on the dashboard: too few to learn from."""


def class_quality(model: ModelVersion | None, labels: list[dict[str, object]]) -> dict[str, object]:
    """The newest model's test confusion, recall and precision per class, and plain warnings.

    A warning names each class with fewer than :data:`FEW_LABELS_PER_CLASS` labeled faces, and
    each class the model never predicted on the test split (its precision is undefined and its
    recall 0: the model has given up on it).
    """
    metrics = model.metrics if model is not None else {}
    matrix = metrics.get("confusion")
    warnings = [
        f"{row['name']}: {row['labels']} labeled faces, fewer than {FEW_LABELS_PER_CLASS}"
        for row in labels
        if row["labels"] < FEW_LABELS_PER_CLASS
    ]
    if matrix:
        warnings += [
            f"{row['name']}: never predicted on the test split by model v{model.version}"
            for row, column in zip(labels, zip(*matrix, strict=True), strict=True)
            if sum(column) == 0
        ]
    return {
        "version": None if model is None else model.version,
        "matrix": matrix,
        "classes": [row["name"] for row in labels],
        "recall": metrics.get("per_class_recall"),
        "precision": metrics.get("per_class_precision"),
        "few_labels": FEW_LABELS_PER_CLASS,
        "warnings": warnings,
    }


def review_counts(project: Project) -> dict[str, int]:
    """Reviews, apart from votes: live ones, the faces they relabeled, and undone ones."""
    reviews = Review.objects.filter(project=project)
    live = reviews.filter(undone_at__isnull=True)
    return {
        "reviews": live.count(),
        "faces_reviewed": Face.objects.filter(project=project, reviewed_label__isnull=False).count(),
        "labels_changed": live.exclude(label_before=F("label_after")).count(),
        "undone": reviews.filter(undone_at__isnull=False).count(),
        "excluded_faces": Face.objects.filter(project=project, excluded=True).count(),
    }


def reviewer_of_final_label() -> Subquery:
    """For a ``Face`` queryset: the username of the reviewer whose live review set its label."""
    newest = Review.objects.filter(face=OuterRef("pk"), undone_at__isnull=True).order_by("-created_at", "-id")
    return Subquery(newest.values("reviewer__username")[:1])


def dashboard(viewer: Membership) -> dict[str, object]:
    """Everything the dashboard draws for ``viewer``, in one response: per-annotator figures are
    everyone's for owners and reviewers, and only the viewer's own for an annotator."""
    project = viewer.project
    only = None if viewer.role in (Role.OWNER, Role.REVIEWER) else viewer.user
    model = latest_model(project)
    cycle = current_cycle(project)
    labels = labels_per_class(project)
    figures = None if cycle is None else cycle_progress(cycle, project.votes_per_face)
    return {
        "budget": budget_status(project),
        "pool_size": Face.objects.filter(project=project, split=Split.POOL).count(),
        "test_size": Face.objects.filter(project=project, split=Split.TEST).count(),
        "learning_curve_unavailable_reason": learning_curve_unavailable_reason(project, model),
        "auxiliary_size": Face.objects.filter(project=project, split=Split.AUXILIARY).count(),
        "omni_supervision": omni_supervision_history(project),
        "labels_per_class": labels,
        "unsure_faces": unsure_faces(project, Split.POOL),
        "unsure_test_faces": unsure_faces(project, Split.TEST),
        "learning_curve_basis": learning_curve_basis(project),
        "annotators": annotator_stats(project, only),
        "agreement": agreement(project),
        "learning_curve": learning_curve(project),
        "reliability": annotator_reliability(project, model, only),
        "margins": margin_history(project),
        "confirmations": confirmation_stats(project, only),
        "reviews": review_counts(project),
        "confusion": class_quality(model, labels),
        "comparison": latest_comparison(project),
        "strategy": {
            "name": project.strategy,
            "class_balanced": project.class_balanced,
            "choices": Strategy.choices,
        },
        "cycle": None if cycle is None else {"number": cycle.number, **figures},
        "next_model": training_speed.next_model(project, figures, has_model=model is not None),
    }
