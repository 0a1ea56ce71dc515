"""Exports of a project's label set and models, run as background jobs with progress.

An owner asks for an export (API or page); a worker writes the file under
``MEDIA_ROOT/projects/<id>/exports/job-<job id>/`` and the job's result names it; the owner
downloads it. The management commands call :func:`write_export` directly.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from annotator.ml_bridge import CancelFlag, ProgressCallback, ignore_progress, never_cancelled
from annotator.ml_bridge import exports as export_bridge
from annotator.models import Face, Job, JobKind, JobState, ModelVersion, Project, Split
from annotator.queues import EXPORT_TASK
from annotator.selectors.dashboard import reviewer_of_final_label
from annotator.services import jobs
from annotator.services.cycle_inputs import cycle_inputs
from annotator.services.errors import InvalidInput, NotAllowed
from annotator.services.names import exportable_names

logger = logging.getLogger(__name__)

LABEL_FORMATS = tuple(export_bridge.LABEL_WRITERS)
MODEL_FORMATS = export_bridge.MODEL_FORMATS
DISTILLED_FORMATS = export_bridge.DISTILLED_FORMATS
EXPORT_KINDS = {"labels": LABEL_FORMATS, "model": MODEL_FORMATS, "distilled": DISTILLED_FORMATS}
"""distilled: the labeled faces as a few synthetic images per class with learned step sizes and
a card of the test accuracy they teach (dataset distillation; shares no face)."""
FACE_FIELDS = (
    "id", "source_name", "image", "class_votes", "candidate_set", "label_index", "vote_count", "reviewed_label",
)  # fmt: skip


def request_export(project: Project, *, what: str, format: str, version: int | None = None) -> Job:
    """Queue an export job; ``what`` is "labels", "model" or "distilled" (``version``: latest when None).

    Raises:
        InvalidInput: unknown kind or format, or no such model version.
    """
    _check(project, what, format, version)
    job = jobs.create_job(project, JobKind.EXPORT, stage="queued",
                          result={"what": what, "format": format, "version": version})  # fmt: skip
    transaction.on_commit(lambda: jobs.enqueue(job, EXPORT_TASK))
    return job


def run_export_job(job_id: int) -> str:
    """Write the export of job ``job_id`` (called by the worker); returns the final state."""
    return jobs.run_job(job_id, stage="export", work=_export)


def _export(job: Job) -> jobs.JobDone:
    request = dict(job.result)
    path, details = write_export(
        job.project, request["what"], request["format"], request["version"], jobs.job_dir(job, "exports"),
        progress=jobs.progress_reporter(job), cancel=jobs.cancel_flag(job),
    )  # fmt: skip
    return jobs.JobDone(f"wrote {path.name}", {**request, "file": jobs.relative_to_media(path), **details})


def write_export(
    project: Project,
    what: str,
    format: str,
    version: int | None,
    out_dir: Path,
    *,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelFlag = never_cancelled,
) -> tuple[Path, dict[str, Any]]:
    """Write one export into ``out_dir`` and return its file and a summary."""
    _check(project, what, format, version)
    if what == "distilled":
        return export_bridge.write_distilled_set(
            cycle_inputs(project), out_dir, device=settings.TORCH_DEVICE, progress=progress, cancel=cancel
        )
    if what == "labels":
        # Names stored before they were checked may hold control characters: export a clean spelling.
        classes = tuple(exportable_names(project.classes.order_by("index").values_list("name", flat=True)))
        faces = (
            Face.objects.filter(project=project, split=Split.POOL, excluded=False)  # excluded: never exported
            .annotate(reviewed_by=reviewer_of_final_label())
            .order_by("id")
            .values(*FACE_FIELDS, "reviewed_by")
        )
        rows = export_bridge.label_rows(
            faces.iterator(chunk_size=2000), len(classes), Path(settings.MEDIA_ROOT)
        )
        return export_bridge.write_label_set(format, out_dir, classes, rows, total=faces.count(),
                                             progress=progress, cancel=cancel)  # fmt: skip
    model_version = _model_version(project, version)
    provenance = {
        "labels_used": model_version.labels_used,
        "strategy": project.strategy,
        "cycles": project.cycles.count(),
        "ssl_method": project.ssl_method,
        "training_mode": project.training_mode,
        "project": project.name,
    }
    checkpoint = Path(settings.MEDIA_ROOT) / model_version.checkpoint
    path, details = export_bridge.write_model(
        checkpoint, format, out_dir, provenance, progress=progress, cancel=cancel
    )
    return path, {"model_version": model_version.version, **details}


def export_file(job: Job) -> Path:
    """The finished export file of ``job``.

    Raises:
        NotAllowed: the job is not a finished export.
    """
    if job.kind != JobKind.EXPORT or job.state != JobState.SUCCEEDED or "file" not in job.result:
        raise NotAllowed("this job has no finished export to download")
    return Path(settings.MEDIA_ROOT) / job.result["file"]


def _check(project: Project, what: str, format: str, version: int | None) -> None:
    formats = EXPORT_KINDS.get(what)
    if formats is None:
        raise InvalidInput(f"unknown export {what!r}; use one of {', '.join(EXPORT_KINDS)}")
    if format not in formats:
        raise InvalidInput(f"unknown {what} format {format!r}; use one of {', '.join(formats)}")
    if what == "model":
        _model_version(project, version)


def _model_version(project: Project, version: int | None) -> ModelVersion:
    versions = ModelVersion.objects.filter(project=project).order_by("-version")
    found = versions.filter(version=version).first() if version is not None else versions.first()
    if found is None:
        raise InvalidInput("no trained model yet" if version is None else f"no model version {version}")
    return found
