"""The loop as labelers and owners follow it: the batch, the budget, why no batch is open, where
each job stands in its queue, which faces were answered. No writes."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import Count, QuerySet

from annotator.assignment import current_cycle, cycle_progress
from annotator.models import (
    ACTIVE_JOB_STATES,
    ChosenBy,
    Cycle,
    CycleState,
    Face,
    Job,
    JobKind,
    JobState,
    Membership,
    ModelVersion,
    Project,
    QueueEntry,
    Vote,
)
from annotator.models.jobs import MODEL_JOB_KINDS
from annotator.queues import DEFAULT_QUEUE, TRAIN_QUEUE
from annotator.selectors.budget import budget_spent, budget_status
from annotator.selectors.leases import lease_wait
from annotator.selectors.model_versions import latest_model

RECENT_JOBS = 10


def live_votes(project: Project) -> QuerySet[Vote]:
    return Vote.objects.filter(project=project, retracted_at__isnull=True)


def labeling_progress(project: Project, user: User, tab: str | None = None) -> dict[str, object]:
    """What the labeling page shows: budget, the batch's progress, the annotator's own count.

    ``waiting`` says why no face is free: no batch is open, or (for the asking ``tab``) the
    open batch's faces are all held or answered (:func:`annotator.selectors.leases.lease_wait`).
    """
    project.refresh_from_db(fields=["votes_spent", "budget_votes", "votes_per_face"])
    membership = Membership.objects.filter(project=project, user=user).first()
    # Between batches no cycle is labeling: report the newest one and what it is doing (training,
    # selecting), not "labeling has not started".
    cycle = current_cycle(project) or project.cycles.order_by("-number").first()
    model = latest_model(project)
    return {
        "budget_votes": project.budget_votes,
        "votes_spent": project.votes_spent,
        "votes_left": project.votes_left,
        "budget": budget_status(project),
        "cycle": None
        if cycle is None
        else {
            "number": cycle.number,
            "state": cycle.state,
            "state_label": cycle.get_state_display(),
            **cycle_progress(cycle, project.votes_per_face),
            "selected_by": cycle.selected_by.version if cycle.selected_by else None,
            "provisional": cycle.state == CycleState.LABELING and _newer_model_training(cycle),
        },
        "waiting": _waiting(project, user, tab, model),
        "model_version": model.version if model else None,
        "own_votes": membership.votes_cast if membership else 0,
        "quota_votes": membership.quota_votes if membership else None,
    }


def _waiting(project: Project, user: User, tab: str | None, model: ModelVersion | None) -> dict | None:
    if current_cycle(project) is None:
        return waiting_reason(project, model)
    return None if tab is None else lease_wait(project, user, tab)


def _newer_model_training(cycle: Cycle) -> bool:
    """True while a model trained on earlier batches is coming: its batch will take ``cycle`` over."""
    return Job.objects.filter(
        project_id=cycle.project_id,
        kind=JobKind.TRAIN,
        state__in=ACTIVE_JOB_STATES,
        cycle__number__lt=cycle.number,
    ).exists()


WAITING_MESSAGES = {
    "not_started": "Labeling has not started yet.",
    "budget_spent": "The budget is spent: no faces are left to label.",
    "first_model": "Nothing is ranked yet: the first model is training, and its batch opens when it is published.",
    "model_training": "The next model is training; its batch opens when it is published.",
    "no_batch": "No batch is open: a project owner can retrain from the dashboard.",
}


def waiting_reason(project: Project, model: ModelVersion | None) -> dict[str, str]:
    """Why no batch is open for labelers now, as a code the page can switch on and a sentence."""
    if not project.cycles.exists():
        reason = "not_started"
    elif budget_spent(project):
        reason = "budget_spent"
    elif model is None:
        reason = "first_model"
    elif Job.objects.filter(project=project, kind=JobKind.TRAIN, state__in=ACTIVE_JOB_STATES).exists():
        reason = "model_training"
    else:
        reason = "no_batch"
    return {"reason": reason, "message": WAITING_MESSAGES[reason]}


def job_queue(kind: str) -> str:
    """The worker queue a job kind runs on: model jobs on ``train``, the rest on ``default``
    (as :data:`annotator.queues.TASK_QUEUES` routes their tasks)."""
    return TRAIN_QUEUE if kind in MODEL_JOB_KINDS else DEFAULT_QUEUE


def job_waiting_for(job: Job) -> str | None:
    """What a queued job waits for, in words: the jobs running on its queue and those queued before it.

    Other projects are not named: a member of one project must not learn another's name.
    """
    if job.state != JobState.QUEUED:
        return None
    queue = job_queue(job.kind)
    kinds = [kind for kind in JobKind.values if job_queue(kind) == queue]
    same_queue = Job.objects.filter(kind__in=kinds).exclude(pk=job.pk)
    running = list(same_queue.filter(state=JobState.RUNNING).order_by("started_at", "id")[:5])
    ahead = same_queue.filter(state=JobState.QUEUED, created_at__lte=job.created_at, id__lt=job.pk).count()
    before = f"{ahead} earlier job{'s' if ahead != 1 else ''} queued before it"
    if not running:
        if ahead:
            return f"waiting for the {queue} worker: {before}"
        return f"waiting for a {queue} worker to take it (none has yet: is one running?)"
    doing = ", ".join(
        f"{'this' if other.project_id == job.project_id else 'another'} project's "
        f"{other.get_kind_display().lower()} is running" + (f" (epoch {other.epoch})" if other.epoch else "")
        for other in running
    )
    return f"waiting for the {queue} worker: {doing}" + (f"; {before}" if ahead else "")


def active_jobs(project: Project) -> QuerySet[Job]:
    return Job.objects.filter(project=project, state__in=ACTIVE_JOB_STATES).order_by("created_at", "id")


def jobs_to_show(project: Project) -> list[Job]:
    """Queued and running jobs first, then the most recent finished ones; at most RECENT_JOBS of each.

    The dashboard shows what is happening, not the history (the paginated jobs list has it),
    so a project with hundreds of waiting jobs still answers in one small response.
    """
    active = Job.objects.filter(project=project, state__in=ACTIVE_JOB_STATES)[:RECENT_JOBS]
    recent = Job.objects.filter(project=project).exclude(state__in=ACTIVE_JOB_STATES)[:RECENT_JOBS]
    return [*active, *recent]


def chosen_by_counts(project: Project) -> dict[str, object]:
    """How the queued faces were chosen, per cycle and overall (``QueueEntry.chosen_by``): how much
    of the labeling the strategy chose, and how much the fallbacks that keep labelers busy."""
    rows = (
        QueueEntry.objects.filter(cycle__project=project)
        .values_list("cycle__number", "chosen_by")
        .annotate(count=Count("id"))
        .order_by("cycle__number", "chosen_by")
    )
    overall = dict.fromkeys(ChosenBy.values, 0)
    cycles: dict[int, dict[str, int]] = {}
    for number, chosen_by, count in rows:
        overall[chosen_by] += count
        cycles.setdefault(number, {})[chosen_by] = count
    return {
        "labels": dict(ChosenBy.choices),
        "overall": overall,
        "cycles": [{"number": number, "counts": counts} for number, counts in cycles.items()],
    }


def answered_face_ids(project: Project) -> set[int]:
    """Faces with a live vote that spends the budget: they are never asked again."""
    return set(Face.objects.filter(project=project, vote_count__gt=0).values_list("id", flat=True))
