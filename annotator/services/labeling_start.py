"""Starting the loop: open the first batch and, beside it, queue the pool's pre-training.

The first batch is drawn at random and needs no model, so annotators start at once while
self-supervised pre-training runs on a worker (:mod:`annotator.services.pretraining`). A
project whose ``initial_selection`` is representative (k-means, TypiClust) opens the batch
with only its test sample; pre-training then queues the picks
(:func:`annotator.services.cycles.complete_initial_set`).
This step sits above both the cycles and pre-training so that neither imports the other.
"""

from __future__ import annotations

from django.db import transaction

from annotator.models import Cycle, Project
from annotator.services.cycles import open_initial_cycle
from annotator.services.pretraining import request_pretraining


@transaction.atomic
def start_labeling(project: Project) -> Cycle:
    """Open cycle 0 and queue pre-training. Idempotent: a project that has cycles keeps them.

    Raises:
        Conflict: the pool is empty.
    """
    cycle, opened = open_initial_cycle(project)
    if opened:
        request_pretraining(project)
    return cycle
