"""Which model, backbone and index the project has: what the next training starts from,
what browsing searches, whom the crowd model distrusts. No writes."""

from __future__ import annotations

from annotator.ml_bridge import FACE_IDS_KEY
from annotator.models import (
    Job,
    JobKind,
    JobState,
    ModelVersion,
    Project,
)


def latest_model(project: Project) -> ModelVersion | None:
    return ModelVersion.objects.filter(project=project).order_by("-version").first()


def warm_start_model(project: Project) -> ModelVersion | None:
    """The model version the next training fine-tunes from, or None (warm start off, or no model yet).

    Once a pre-trained backbone exists, a model whose line of warm starts began from scratch
    (it trained beside pre-training) is not continued: the next cycle switches to the
    backbone, and warm start continues from that cycle's model on.
    """
    model = latest_model(project) if project.warm_start else None
    if model is None or not model.checkpoint:
        return None
    if pretrained_backbone(project) is not None and _first_start(model) != "ssl":
        return None
    return model


def _first_start(model: ModelVersion) -> str:
    """Where the line of warm starts that led to ``model`` began: "ssl", "scratch" (or "" if unknown)."""
    started = dict(
        ModelVersion.objects.filter(project_id=model.project_id).values_list("version", "started_from")
    )
    version, start = model.version, model.started_from
    while start.startswith("v") and start[1:].isdigit() and int(start[1:]) < version:
        version = int(start[1:])
        start = started.get(version, "")
    return start


def pretrained_backbone(project: Project) -> str | None:
    """The stored checkpoint of the project's newest finished self-supervised pre-training, if any."""
    job = (
        Job.objects.filter(project=project, kind=JobKind.PRETRAIN, state=JobState.SUCCEEDED)
        .order_by("-finished_at", "-id")
        .first()
    )
    return str(job.result["checkpoint"]) if job and "checkpoint" in job.result else None


def pool_index(project: Project) -> tuple[str, str] | None:
    """The stored faiss index and its face ids from the project's newest pre-training, if it wrote them."""
    jobs = Job.objects.filter(project=project, kind=JobKind.PRETRAIN, state=JobState.SUCCEEDED)
    job = jobs.filter(result__has_key=FACE_IDS_KEY).order_by("-finished_at", "-id").first()
    if job is None or "index" not in job.result:
        return None
    return str(job.result["index"]), str(job.result[FACE_IDS_KEY])


def unreliable_annotator_ids(project: Project, threshold: float) -> list[int]:
    """Annotators the newest crowd model rates below ``threshold`` (none before a fit)."""
    model = latest_model(project)
    rows = (model.crowd or {}).get("annotators", []) if model is not None else []
    return [row["annotator_id"] for row in rows if row["reliability"] < threshold]


def ranking_model(project: Project) -> ModelVersion | None:
    """The newest model version that ranked faces (a mid-batch retrain ranks none)."""
    return ModelVersion.objects.filter(project=project).exclude(ranking={}).order_by("-version").first()
