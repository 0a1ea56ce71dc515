"""Exports of a project's label set and models, run as background jobs with progress.

An owner asks for an export (API or page); a worker writes the file, stores it as
``projects/<id>/exports/job-<job id>/<file>`` (:mod:`annotator.file_store`) and the job's result
names it; the owner downloads it. The management commands call :func:`write_export` directly.

Label sets hold every split (each face says which) with reviews and exclusions applied, all
faces or only the labeled ones (:mod:`annotator.services.export_rows`). A model export is a
zip of the model file and its card (``MODEL_CARD.md``, ``model_card.json``), with the model
version recorded in both and in the model's own metadata.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from annotator import file_store
from annotator.ml_bridge import CancelFlag, ProgressCallback, ignore_progress, never_cancelled
from annotator.ml_bridge import exports as export_bridge
from annotator.models import Job, JobKind, JobState, ModelVersion, Project
from annotator.queues import EXPORT_TASK
from annotator.selectors.classes import class_names
from annotator.services import jobs
from annotator.services.cycle_inputs import cycle_inputs
from annotator.services.errors import InvalidInput, NotAllowed
from annotator.services.export_rows import FACE_CHOICES, exported_faces, face_values
from annotator.services.names import exportable_names

logger = logging.getLogger(__name__)

LABEL_FORMATS = tuple(export_bridge.LABEL_WRITERS)
MODEL_FORMATS = export_bridge.MODEL_FORMATS
DISTILLED_FORMATS = export_bridge.DISTILLED_FORMATS
EXPORT_KINDS = {"labels": LABEL_FORMATS, "model": MODEL_FORMATS, "distilled": DISTILLED_FORMATS}
"""distilled: the labeled faces as a few synthetic images per class with learned step sizes and
a card of the test accuracy they teach (dataset distillation; shares no face)."""
IMAGE_CHUNK = 500
"""Faces whose images a label set export fetches at once from a remote storage."""
ANSWER_FORMATS = ("labelstudio",)
"""Formats that keep each annotator's answer and the model's guess, not only the counts."""


def request_export(
    project: Project, *, what: str, format: str, version: int | None = None, faces: str = "all"
) -> Job:
    """Queue an export job; ``what`` is "labels", "model" or "distilled" (``version``: latest when None).

    ``faces`` ("all" or "labeled") picks a label set's faces; other exports ignore it.

    Raises:
        InvalidInput: unknown kind, format or faces choice, or no such model version.
    """
    _check(project, what, format, version, faces)
    request = {"what": what, "format": format, "version": version, "faces": faces}
    job = jobs.create_job(project, JobKind.EXPORT, stage="queued", result=request)
    transaction.on_commit(lambda: jobs.enqueue(job, EXPORT_TASK))
    return job


def run_export_job(job_id: int) -> str:
    """Write the export of job ``job_id`` (called by the worker); returns the final state."""
    return jobs.run_job(job_id, stage="export", work=_export)


def _export(job: Job) -> jobs.JobDone:
    request = dict(job.result)
    path, details = write_export(
        job.project,
        request["what"],
        request["format"],
        request["version"],
        jobs.job_dir(job),
        faces=request.get("faces", "all"),
        progress=jobs.progress_reporter(job),
        cancel=jobs.cancel_flag(job),
    )
    jobs.publish_outputs(job)
    return jobs.JobDone(f"wrote {path.name}", {**request, "file": jobs.stored_name(path), **details})


def write_export(
    project: Project,
    what: str,
    format: str,
    version: int | None,
    out_dir: Path,
    *,
    faces: str = "all",
    progress: ProgressCallback = ignore_progress,
    cancel: CancelFlag = never_cancelled,
) -> tuple[Path, dict[str, Any]]:
    """Write one export into ``out_dir`` and return its file and a summary."""
    _check(project, what, format, version, faces)
    if what == "distilled":
        return export_bridge.write_distilled_set(
            cycle_inputs(project), out_dir, device=settings.TORCH_DEVICE, progress=progress, cancel=cancel
        )
    if what == "labels":
        # Names stored before they were checked may hold control characters: export a clean spelling.
        classes = tuple(exportable_names(class_names(project)))
        values = face_values(project, faces, with_answers=format in ANSWER_FORMATS)
        if format in export_bridge.FORMATS_WITH_IMAGES:
            values = _with_local_images(values)
        rows = export_bridge.label_rows(values, len(classes))
        path, details = export_bridge.write_label_set(
            format,
            out_dir,
            classes,
            rows,
            total=exported_faces(project, faces).count(),
            include_unlabeled=faces == "all",
            progress=progress,
            cancel=cancel,
        )
        return path, {"faces": faces, **details}
    model_version = _model_version(project, version)
    provenance = {
        "labels_used": model_version.labels_used,
        "strategy": project.strategy,
        "cycles": project.cycles.count(),
        "ssl_method": project.ssl_method,
        "training_mode": project.training_mode,
        "project": project.name,
        "model_version": model_version.version,
    }
    checkpoint = file_store.local_copy(model_version.checkpoint)
    path, details = export_bridge.write_model(
        checkpoint, format, out_dir, provenance, progress=progress, cancel=cancel
    )
    return path, {"model_version": model_version.version, **details}


def _with_local_images(values: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """``values`` with each face's local ``image_path`` (of its ``image`` name), a chunk of faces at a time."""
    chunk: list[dict[str, Any]] = []
    for row in values:
        chunk.append(row)
        if len(chunk) == IMAGE_CHUNK:
            yield from _localized(chunk)
            chunk = []
    yield from _localized(chunk)


def _localized(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    paths = file_store.local_copies([row["image"] for row in rows])
    return [{**row, "image_path": str(path)} for row, path in zip(rows, paths, strict=True)]


def export_file(job: Job) -> str:
    """The storage name of the finished export file of ``job``.

    Raises:
        NotAllowed: the job is not a finished export.
    """
    if job.kind != JobKind.EXPORT or job.state != JobState.SUCCEEDED or "file" not in job.result:
        raise NotAllowed("this job has no finished export to download")
    return str(job.result["file"])


def _check(project: Project, what: str, format: str, version: int | None, faces: str) -> None:
    if faces not in FACE_CHOICES:
        raise InvalidInput(f"unknown faces choice {faces!r}; use one of {', '.join(FACE_CHOICES)}")
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
