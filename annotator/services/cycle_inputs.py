"""What a model job reads from the database, as the plain values the bridge takes.

Training, pre-training and the distilled-set export all start from the same
:class:`~annotator.ml_bridge.cycle_inputs.CycleInputs`: the project's faces and votes, its
settings, and the checkpoints it starts from, each a local file (:mod:`annotator.file_store`
fetches them when the storage is remote). Reading them here keeps those jobs apart:
none imports another to get its inputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from annotator import file_store
from annotator.ml_bridge.cycle_inputs import CycleInputs
from annotator.models import Cycle, Face, OfferState, Project, PseudoLabelOffer, VoteKind
from annotator.selectors.classes import class_names
from annotator.selectors.model_versions import latest_model, pretrained_backbone, warm_start_model
from annotator.selectors.progress import live_votes
from annotator.services.backbone_weights import backbone_weights_path
from annotator.services.projects import check_settings


def next_batch_size(project: Project, cycle: Cycle) -> int:
    """Faces in the next batch: the project's batch size, capped by the votes left (0 once spent).

    Only a completed batch leads to a next one; a "retrain now" mid-batch selects nothing.
    """
    if cycle.labeling_completed_at is None:
        return 0
    project.refresh_from_db(fields=["votes_spent"])
    return min(project.batch_size, project.votes_left // project.votes_per_face)


def cycle_inputs(project: Project, cycle: Cycle | None = None, *, epochs: int | None = None) -> CycleInputs:
    """Everything a worker job needs from the database, as plain values (see the bridge).

    Raises:
        InvalidInput: a project setting is out of bounds (checked before anything is allocated).
    """
    check_settings(project)
    rows: list[dict[str, Any]] = [
        dict(row)
        for row in Face.objects.filter(
            project=project, excluded=False
        )  # excluded faces never train nor are scored
        .order_by("id")
        .values(
            "id",
            "image",
            "split",
            "label_index",
            "imported_label",
            "class_votes",
            "candidate_set",
            "reviewed_label",
        )
    ]
    confirmed = dict(
        PseudoLabelOffer.objects.filter(project=project, state=OfferState.CONFIRMED).values_list(
            "face_id", "class_index"
        )
    )
    for row, image in zip(rows, file_store.local_copies([row["image"] for row in rows]), strict=True):
        row["confirmed_label"] = confirmed.get(row["id"])
        row["image"] = str(image)
    votes = live_votes(project).filter(kind=VoteKind.LABEL, face__excluded=False)
    vote_rows = list(votes.values_list("face_id", "annotator_id", "class_index"))
    batch = 0 if cycle is None else next_batch_size(project, cycle)
    warm = warm_start_model(project)
    return CycleInputs(
        class_names=class_names(project),
        rows=rows,
        model_name=project.model_name,
        image_size=project.image_size,
        training_mode=project.training_mode,
        auxiliary_tasks=project.auxiliary_tasks,
        strategy=project.strategy,
        seed=project.seed,
        epochs=epochs
        or (settings.FACELOOP_TRAIN_EPOCHS if warm is None else settings.FACELOOP_WARM_START_EPOCHS),
        next_batch_size=batch,
        reserve_size=batch if project.continuous_labeling else 0,
        pretrained_backbone=_local_copy(pretrained_backbone(project)),
        backbone_weights=backbone_weights_path(project),
        warm_start_checkpoint=None if warm is None else file_store.local_copy(warm.checkpoint),
        warm_start_version=None if warm is None else warm.version,
        class_balanced=project.class_balanced,
        min_train_steps=settings.FACELOOP_MIN_TRAIN_STEPS,
        votes=np.asarray(vote_rows, dtype=np.int64).reshape(-1, 3),
        offer_confirmations=project.offer_confirmations,
        omni_supervised_delta=project.omni_supervised_delta,
        current_checkpoint=current_checkpoint(project),
    )


def current_checkpoint(project: Project) -> Path | None:
    """The newest model version's checkpoint, which pseudo-labels auxiliary faces (None before any)."""
    model = latest_model(project)
    return _local_copy(model.checkpoint if model is not None else None)


def _local_copy(name: str | None) -> Path | None:
    """A local file of stored file ``name`` (:func:`annotator.file_store.local_copy`), or None for no name."""
    return file_store.local_copy(name) if name else None
