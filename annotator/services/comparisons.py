"""Strategy comparisons: does active learning pay off on this project's own labels?

An owner asks, after seeing which model the replay would train and how long the project's own
would take (:mod:`annotator.selectors.comparison_plan`); a job on the ``train`` queue replays
the labeling loop (seed 000's oracle loop) on the labeled pool faces, once per chosen strategy
(random sampling always among them) and seed, and stores the curves and a sentence in its
result. The newest finished comparison stays on the dashboard; :func:`adopt_strategy` switches
the project to the one chosen.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from annotator import file_store
from annotator.ml_bridge import comparisons as comparison_bridge
from annotator.models import Face, Job, JobKind, JobState, Project, Split, Strategy
from annotator.queues import COMPARE_STRATEGIES_TASK
from annotator.selectors import comparison_plan
from annotator.selectors.classes import class_names
from annotator.services import jobs, projects
from annotator.services.errors import Conflict, InvalidInput

logger = logging.getLogger(__name__)

DEFAULT_SEEDS, MAX_SEEDS = 3, 5
MIN_LABELED_FACES = 50
"""Fewer labeled pool faces leave the loop an initial set and batches of a handful of faces."""
BALANCED_SUFFIX = comparison_bridge.BALANCED_SUFFIX


def _labeled_pool(project: Project):
    return Face.objects.filter(project=project, split=Split.POOL, excluded=False, label_index__isnull=False)


def _labeled_test_count(project: Project) -> int:
    test = Face.objects.filter(project=project, split=Split.TEST, excluded=False)
    return (
        test.filter(imported_label__isnull=False).count()
        + test.filter(imported_label__isnull=True, label_index__isnull=False).count()
    )


def comparison_strategies(strategies: list[str], class_balanced: bool) -> list[str]:
    """Random first, then each chosen strategy and, when asked, its class-balanced variant.

    Raises:
        InvalidInput: an unknown strategy name.
    """
    unknown = sorted(set(strategies) - set(Strategy.values))
    if unknown:
        raise InvalidInput(f"unknown strategies {unknown}; choose from {', '.join(Strategy.values)}")
    names = [Strategy.RANDOM.value, *strategies]
    if class_balanced:
        names += [f"{name}{BALANCED_SUFFIX}" for name in strategies if name != Strategy.RANDOM]
    return list(dict.fromkeys(names))


def plan_comparison(
    project: Project,
    strategies: list[str],
    *,
    seeds: int = DEFAULT_SEEDS,
    class_balanced: bool = False,
    model: str = comparison_plan.AUTO,
) -> comparison_plan.ComparisonPlan:
    """The model a comparison with these settings would replay, and the project model's estimated length.

    Raises:
        InvalidInput: unknown strategies or model choice, or a seed count outside 1..MAX_SEEDS.
        Conflict: too few labeled faces, or no labeled test face.
    """
    if not 1 <= seeds <= MAX_SEEDS:
        raise InvalidInput(f"seeds must lie in 1..{MAX_SEEDS}")
    if model not in comparison_plan.CHOICES:
        raise InvalidInput(f"model must be one of {', '.join(comparison_plan.CHOICES)}")
    runs = len(comparison_strategies(strategies, class_balanced)) * seeds
    labeled, test = _labeled_pool(project).count(), _labeled_test_count(project)
    if labeled < MIN_LABELED_FACES:
        raise Conflict(f"{labeled} labeled faces: a comparison needs at least {MIN_LABELED_FACES}")
    if not test:
        raise Conflict("no labeled test face: a comparison measures accuracy on the test split")
    return comparison_plan.comparison_plan(project, labeled=labeled, test=test, runs=runs, asked=model)


@transaction.atomic
def request_comparison(
    project: Project,
    strategies: list[str],
    *,
    seeds: int = DEFAULT_SEEDS,
    class_balanced: bool = False,
    model: str = comparison_plan.AUTO,
) -> Job:
    """Queue a comparison and send it to a worker once this transaction commits.

    The job's request keeps the plan (:func:`plan_comparison`): the model it replays and, for
    the project's, the backbone file it starts from, so a pre-training finishing meanwhile
    does not change what was promised.

    Raises:
        InvalidInput: unknown strategies or model choice, or a seed count outside 1..MAX_SEEDS.
        Conflict: too few labeled faces, no labeled test face, or a comparison already queued or running.
    """
    project = Project.objects.select_for_update().get(pk=project.pk)
    plan = plan_comparison(project, strategies, seeds=seeds, class_balanced=class_balanced, model=model)
    names = comparison_strategies(strategies, class_balanced)
    if Job.objects.filter(
        project=project, kind=JobKind.COMPARE, state__in=(JobState.QUEUED, JobState.RUNNING)
    ).exists():
        raise Conflict("a comparison of this project is already queued or running")
    request = {
        "strategies": names,
        "seeds": list(range(seeds)),
        "labeled_faces": plan.labeled,
        "plan": plan.as_dict(),
    }
    model_used = "your model" if plan.replay == comparison_bridge.PROJECT_MODEL else "a small-CNN stand-in"
    message = f"compare {', '.join(names)} with {model_used}"
    job = jobs.create_job(
        project, JobKind.COMPARE, stage="queued", message=message, result={"request": request}
    )
    transaction.on_commit(lambda: jobs.enqueue(job, COMPARE_STRATEGIES_TASK))
    return job


def comparison_inputs(project: Project, job: Job) -> comparison_bridge.ComparisonInputs:
    """The labeled pool and test faces and the job's request, as plain values.

    A request queued before comparisons had plans replays the stand-in, as those did on a CPU.
    """
    faces = Face.objects.filter(project=project, excluded=False, split__in=(Split.POOL, Split.TEST))
    columns = ("id", "image", "split", "label_index", "imported_label", "class_votes", "reviewed_label")
    rows: list[dict[str, Any]] = [dict(row) for row in faces.order_by("id").values(*columns)]
    for row, image in zip(rows, file_store.local_copies([row["image"] for row in rows]), strict=True):
        row["image"] = str(image)
    request = job.result["request"]
    plan = request.get("plan", {"replay": comparison_bridge.PROXY_MODEL})
    own = plan["replay"] == comparison_bridge.PROJECT_MODEL
    return comparison_bridge.ComparisonInputs(
        class_names=class_names(project),
        rows=rows,
        strategies=tuple(request["strategies"]),
        seeds=tuple(request["seeds"]),
        project_model=plan.get("model_name", project.model_name),
        project_image_size=plan.get("image_size", project.image_size),
        project_epochs=plan.get("epochs", settings.FACELOOP_TRAIN_EPOCHS),
        device=settings.TORCH_DEVICE,
        min_train_steps=settings.FACELOOP_MIN_TRAIN_STEPS,
        replay=plan["replay"],
        started_from=plan.get("started_from", comparison_bridge.SCRATCH),
        backbone=file_store.local_copy(plan["backbone"]) if own and plan.get("backbone") else None,
        initial_selection=plan.get("initial_selection", "random"),
        warm_start_epochs=plan.get("warm_start_epochs"),
        estimated_seconds=plan.get("project_seconds"),
    )


def run_comparison_job(job_id: int) -> str:
    """Do the work of one comparison job (called by the worker); returns the job's final state.

    A redelivered job resumes: the loop skips the (strategy, seed) runs already in its folder
    (on the media folder; with a remote storage the folder is the worker's scratch copy, so a
    job taken over by another worker starts its runs over).
    """
    return jobs.run_job(job_id, stage="compare", work=_compare)


def _compare(job: Job) -> jobs.JobDone:
    outcome = comparison_bridge.run_comparison(
        comparison_inputs(job.project, job),
        comparison_dir(job),
        progress=jobs.progress_reporter(job),
        cancel=jobs.cancel_flag(job),
    )
    jobs.publish_outputs(job)
    return jobs.JobDone(outcome["sentence"], {**job.result, **outcome})


def comparison_dir(job: Job) -> Path:
    """Where a comparison writes ``results.csv`` (the format ``python -m ml_engine simulate`` writes)."""
    return jobs.job_dir(job)


def adopt_strategy(project: Project, name: str) -> Project:
    """Switch the project to a compared strategy: ``<name>`` or ``<name>+balanced``.

    Raises:
        InvalidInput: not a strategy name.
    """
    base = name.removesuffix(BALANCED_SUFFIX)
    if base not in Strategy.values:
        raise InvalidInput(f"unknown strategy {name!r}")
    return projects.update_project(project, strategy=base, class_balanced=name.endswith(BALANCED_SUFFIX))
