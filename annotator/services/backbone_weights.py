"""A project's own starting backbone: an owner gives ResNet-18 weights before labeling starts.

Pre-training then continues from them, and without pre-training the first training starts
from them (later trainings warm-start from the previous model version as usual). They can be
given or removed only before labeling starts: once a model exists, changing where training
started would make the model versions of one project incomparable.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any, BinaryIO, cast

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone

from annotator import file_store
from annotator.media_layout import backbone_weights_name
from annotator.ml_bridge.backbone_weights import adopt_backbone_weights
from annotator.models import Project
from annotator.services.errors import Conflict, InvalidInput


def _check_not_started(project: Project) -> None:
    if project.cycles.exists():
        raise Conflict("labeling has started: the starting weights can no longer change")


def set_backbone_weights(project: Project, upload: UploadedFile) -> dict[str, Any]:
    """Check, adapt and store ``upload`` as the project's starting backbone; returns the report.

    Raises:
        InvalidInput: the file is too large, packed or unpacked, no plain state dict, or does
            not fit the network (the message says which keys, and never a server path);
            nothing is stored then.
        Conflict: labeling has started.
    """
    _check_not_started(project)
    if upload.size is None or upload.size > settings.FACELOOP_MAX_WEIGHTS_BYTES:
        limit = settings.FACELOOP_MAX_WEIGHTS_BYTES // 1024**2
        raise InvalidInput(f"a weights file may be at most {limit} MB; a ResNet-18 is about 45 MB")
    name = backbone_weights_name(project.pk, secrets.token_hex(8))
    destination = file_store.scratch_root() / name
    destination.parent.mkdir(parents=True, exist_ok=True)
    for leftover in destination.parent.glob("*.upload"):  # copies earlier releases left when stopped
        leftover.unlink(missing_ok=True)
    try:
        # Read where Django received it (memory, or its own temporary file): no copy to leave
        # behind. An UploadedFile proxies read, seek and tell to that file.
        loaded = adopt_backbone_weights(
            cast("BinaryIO", upload.open("rb")),
            project.model_name,
            project.classes.count(),
            destination,
            max_unpacked_bytes=settings.FACELOOP_MAX_WEIGHTS_BYTES,
        )
    except ValueError as error:
        raise InvalidInput(str(error)) from None
    finally:
        upload.close()
    report = {"file": upload.name, "given_at": timezone.now().isoformat(), **loaded}
    _adopt(project, destination, report)
    return report


def _adopt(project: Project, written: Path, report: dict[str, Any]) -> None:
    """Store the weights written at ``written`` under their fresh name, name them, then drop the replaced file."""
    (name,) = file_store.publish([written])
    file_store.discard_scratch(name)
    replaced = project.backbone_weights
    Project.objects.filter(pk=project.pk).update(backbone_weights=name, backbone_weights_report=report)
    project.backbone_weights, project.backbone_weights_report = name, report
    if replaced:
        file_store.delete(replaced)


def clear_backbone_weights(project: Project) -> None:
    """Start from scratch again (or from pre-training alone). Raises Conflict once labeling started."""
    _check_not_started(project)
    if project.backbone_weights:
        file_store.delete(project.backbone_weights)
    Project.objects.filter(pk=project.pk).update(backbone_weights="", backbone_weights_report={})
    project.backbone_weights, project.backbone_weights_report = "", {}


def backbone_weights_path(project: Project) -> Path | None:
    """A local file of the project's starting backbone, or None."""
    return file_store.local_copy(project.backbone_weights) if project.backbone_weights else None
