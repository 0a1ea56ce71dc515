"""Importing faces into a project from any format ``ml_engine`` reads.

Faces are decoded, checksummed on their pixels, stored as PNG under ``MEDIA_ROOT`` and
inserted in chunks; duplicates (same pixels already in the project, or twice in one
import) are counted and skipped. Test faces must carry a label and are never queued.
Progress goes to a :class:`~annotator.models.Job` after every chunk, so the import page can
show it while the upload request is still being processed.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction

from annotator import ml_bridge
from annotator.models import Item, Job, JobKind, JobState, Project, Split
from annotator.services import jobs
from annotator.services.errors import InvalidInput
from annotator.services.projects import class_names

CHUNK_SIZE = 200
SPLIT_MODES = ("pool", "test", "auto")


@dataclass
class ImportSummary:
    created: int = 0
    duplicates: int = 0
    problems: list[dict[str, str]] = field(default_factory=list)
    cancelled: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "created": self.created,
            "duplicates": self.duplicates,
            "problems": self.problems[:200],
            "problem_count": len(self.problems),
            "cancelled": self.cancelled,
        }


def import_path(
    project: Project,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    split: str = "auto",
    job: Job | None = None,
) -> ImportSummary:
    """Import a file or folder (format sniffed unless given); a zip is extracted to a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="faceloop-import-") as scratch:
        try:
            dataset = ml_bridge.read_dataset(path, format, Path(scratch) / "extracted")
        except (ValueError, OSError) as error:
            if job is not None:
                jobs.finish_job(job.pk, JobState.FAILED, message=f"cannot read {Path(path).name}: {error}")
            raise InvalidInput(f"cannot read {Path(path).name}: {error}") from error
        return import_dataset(project, dataset, split=split, job=job)


def import_dataset(
    project: Project, dataset: ml_bridge.FaceDataset, *, split: str = "auto", job: Job | None = None
) -> ImportSummary:
    """Store every readable face of ``dataset`` as an :class:`Item` of ``project``.

    Args:
        split: ``"pool"`` or ``"test"`` puts every face there; ``"auto"`` keeps the file's
            test split as test and puts everything else in the pool.
        job: an import job to report progress to and to poll for cancellation.
    """
    if split not in SPLIT_MODES:
        raise InvalidInput(f"split must be one of {SPLIT_MODES}")
    mapping = _class_mapping(dataset.class_names, class_names(project))
    summary = ImportSummary(problems=[{"source": p.source, "reason": p.reason} for p in dataset.problems])
    if job is not None:
        jobs.start_job(job, stage="storing faces")
    for start in range(0, len(dataset), CHUNK_SIZE):
        indices = range(start, min(start + CHUNK_SIZE, len(dataset)))
        _import_chunk(project, dataset, indices, split, mapping, summary)
        done = indices.stop / len(dataset)
        if job is not None and not jobs.report_progress(job.pk, progress=done, result=summary.as_dict()):
            summary.cancelled = True
            break
    if job is not None:
        state = JobState.CANCELLED if summary.cancelled else JobState.SUCCEEDED
        jobs.finish_job(job.pk, state, message=_describe(summary), result=summary.as_dict())
    return summary


def _class_mapping(imported: tuple[str, ...], project_classes: tuple[str, ...]) -> dict[int, int]:
    """Imported label index -> project class index, matched by name (case-insensitive)."""
    by_name = {name.lower(): index for index, name in enumerate(project_classes)}
    aliases = {"happy": "happiness", "sad": "sadness", "angry": "anger", "surprised": "surprise"}
    mapping = {}
    for index, name in enumerate(imported):
        target = by_name.get(name.lower(), by_name.get(aliases.get(name.lower(), "")))
        if target is not None:
            mapping[index] = target
    return mapping


@transaction.atomic
def _import_chunk(
    project, dataset, indices: range, split: str, mapping: dict[int, int], summary: ImportSummary
) -> None:
    Project.objects.select_for_update().filter(pk=project.pk).first()  # one import writes at a time
    rows: dict[str, Item] = {}
    for i in indices:
        name = dataset.names[i]
        try:
            face = ml_bridge.encode_dataset_face(dataset, i)
        except ml_bridge.ImageDecodeError as error:
            summary.problems.append({"source": name, "reason": str(error)})
            continue
        item = _build_item(project, dataset, i, face, split, mapping)
        if item.split == Split.TEST and item.imported_label is None:
            summary.problems.append(
                {"source": name, "reason": "a test face needs a label of this project's classes"}
            )
        elif face.sha256 in rows:
            summary.duplicates += 1
        else:
            rows[face.sha256] = item
            _write_face(item.image.name, face.png)
    existing = set(
        Item.objects.filter(project=project, sha256__in=list(rows)).values_list("sha256", flat=True)
    )
    summary.duplicates += len(existing)
    new = [item for sha, item in rows.items() if sha not in existing]
    Item.objects.bulk_create(new)
    summary.created += len(new)


def _build_item(
    project, dataset, i: int, face: ml_bridge.EncodedFace, split: str, mapping: dict[int, int]
) -> Item:
    file_split = str(dataset.splits[i])
    chosen = split if split != "auto" else ("test" if file_split == "test" else "pool")
    label = int(dataset.labels[i])
    votes = None
    if dataset.votes is not None:
        votes = [0] * (max(mapping.values(), default=-1) + 1)
        for source, target in mapping.items():
            votes[target] = int(dataset.votes[i][source])
    item = Item(
        project=project,
        sha256=face.sha256,
        source_name=dataset.names[i][:255],
        width=face.width,
        height=face.height,
        split=chosen,
        imported_label=mapping.get(label) if label >= 0 else None,
        imported_votes=votes,
    )
    item.image.name = f"projects/{project.pk}/faces/{face.sha256[:2]}/{face.sha256}.png"
    return item


def _write_face(name: str, png: bytes) -> None:
    """Write atomically; the name is the pixel checksum, so an existing file already holds these bytes."""
    target = Path(settings.MEDIA_ROOT) / name
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_bytes(png)
    temporary.replace(target)


def _describe(summary: ImportSummary) -> str:
    parts = [f"{summary.created} faces imported", f"{summary.duplicates} duplicates skipped"]
    if summary.problems:
        parts.append(f"{len(summary.problems)} problems")
    if summary.cancelled:
        parts.append("cancelled")
    return ", ".join(parts)


def create_import_job(project: Project) -> Job:
    return jobs.create_job(project, JobKind.IMPORT)


ARCHIVE_SUFFIXES = {".zip", ".csv"}


def import_uploads(
    project: Project, uploads: list, *, split: str = "auto", job: Job | None = None
) -> ImportSummary:
    """Import files uploaded from the browser: images, or one zip or FER2013 CSV.

    ``uploads`` are file objects with ``name`` and ``chunks()`` (Django's ``UploadedFile``).
    They are written to a temporary folder first, so every format goes through the same
    ``ml_engine`` importer as the command line.
    """
    if not uploads:
        raise InvalidInput("no file was uploaded")
    with tempfile.TemporaryDirectory(prefix="faceloop-upload-") as scratch:
        folder = Path(scratch) / "upload"
        folder.mkdir()
        written = [_save_upload(folder, index, upload) for index, upload in enumerate(uploads)]
        single = written[0] if len(written) == 1 and written[0].suffix.lower() in ARCHIVE_SUFFIXES else None
        if single is not None:
            return import_path(project, single, split=split, job=job)
        return import_path(project, folder, format="folder", split=split, job=job)


def _save_upload(folder: Path, index: int, upload) -> Path:
    name = Path(str(upload.name)).name or f"upload-{index}"
    target = folder / name
    if target.exists():
        target = folder / f"{index}-{name}"
    with open(target, "wb") as handle:
        for chunk in upload.chunks():
            handle.write(chunk)
    return target
