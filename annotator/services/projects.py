"""Creating and changing projects and their classes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from annotator.models import (
    AuxiliaryTask,
    InitialSelection,
    Membership,
    Project,
    ProjectClass,
    Role,
    SslMethod,
    TrainingMode,
)
from annotator.services.budget_plan import check_plan
from annotator.services.errors import Conflict, InvalidInput
from annotator.services.names import check_name, class_name_problem, name_problem
from annotator.services.project_settings import EDITABLE_FIELDS

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")
RESERVED_KEYS = {"u", "s", "z", " "}
"""Keys the labeling page uses itself: unsure, skip, undo, confirm."""


@dataclass(frozen=True)
class ClassSpec:
    """A class as a caller describes it; missing keys and colours get defaults."""

    name: str
    key: str = ""
    color: str = ""


CLASS_KEYS = "123456789abcdefghijklmnopqrtvwxy"
"""Default keys: number keys 1..9 then the letters that are not reserved."""
MAX_CLASSES = len(CLASS_KEYS)
"""Each class needs its own key on the labeling page."""


def default_class_specs(names: Sequence[str]) -> list[ClassSpec]:
    """Number keys 1..9 then letters, and the palette's colours, in order."""
    return [ClassSpec(name, CLASS_KEYS[i], PALETTE[i % len(PALETTE)]) for i, name in enumerate(names)]


def _resolved(specs: Sequence[ClassSpec]) -> list[ClassSpec]:
    if not 2 <= len(specs) <= MAX_CLASSES:
        raise InvalidInput(f"a project needs between 2 and {MAX_CLASSES} classes")
    defaults = default_class_specs([spec.name for spec in specs])
    resolved = [
        ClassSpec(spec.name.strip(), (spec.key or default.key).lower(), spec.color or default.color)
        for spec, default in zip(specs, defaults, strict=True)
    ]
    for number, spec in enumerate(resolved, start=1):
        for field, problem in (("name", class_name_problem(spec.name)), ("key", name_problem(spec.key))):
            if problem:
                raise InvalidInput(f"class {number} {field}: {problem}")
    names = [spec.name.lower() for spec in resolved]
    keys = [spec.key for spec in resolved]
    if "" in names or len(set(names)) != len(names):
        raise InvalidInput("class names must be present and distinct")
    if len(set(keys)) != len(keys) or any(len(key) != 1 for key in keys):
        raise InvalidInput("class keys must be single, distinct characters")
    if RESERVED_KEYS & set(keys):
        raise InvalidInput(f"keys {sorted(RESERVED_KEYS)} are reserved for unsure, skip, undo and confirm")
    return resolved


@transaction.atomic
def create_project(owner: User, *, name: str, classes: Sequence[ClassSpec], **settings: object) -> Project:
    """Create a project with its classes; the owner becomes its first member (role owner)."""
    specs = _resolved(classes)
    project = Project(owner=owner, name=check_name("name", name), **settings)
    check_name("description", project.description, multiline=True)
    check_settings(project)
    project.save()
    ProjectClass.objects.bulk_create(
        ProjectClass(project=project, index=i, name=spec.name, key=spec.key, color=spec.color)
        for i, spec in enumerate(specs)
    )
    Membership.objects.create(project=project, user=owner, role=Role.OWNER)
    return project


@transaction.atomic
def update_project(project: Project, **changes: object) -> Project:
    """Change a project's settings. The budget can never drop below the votes already spent."""
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise InvalidInput(f"cannot change {sorted(unknown)}")
    project = Project.objects.select_for_update().get(pk=project.pk)
    budget = changes.get("budget_votes")
    if isinstance(budget, int) and budget < project.votes_spent:
        raise Conflict(f"{project.votes_spent} votes are already spent; the budget cannot be lower")
    if (
        "votes_per_face" in changes
        and project.votes_spent
        and changes["votes_per_face"] != project.votes_per_face
    ):
        raise Conflict("votes per face cannot change once labeling has started")
    locks = locked_settings(project)
    refused = {
        field: locks[field]
        for field, value in changes.items()
        if field in locks and value != getattr(project, field)
    }
    if refused:
        raise Conflict("; ".join(f"{field}: {reason}" for field, reason in refused.items()))
    for field, value in changes.items():
        setattr(project, field, value)
    check_name("name", project.name)
    check_name("description", project.description, multiline=True)
    check_settings(project)
    project.save(update_fields=[*changes])
    return project


def locked_settings(project: Project) -> dict[str, str]:
    """Settings that may no longer change, each with the reason (the settings page shows them read-only)."""
    locks: dict[str, str] = {}
    if project.cycles.exists():
        started = "labeling has started, and the first batch was drawn with it"
        locks |= {
            "initial_set_size": started,
            "seed": started,
            "ssl_method": "pre-training ran when labeling started",
            "initial_selection": started,
            "test_sample_size": "the test sample was drawn from the pool when labeling started",
        }
    if project.votes_spent:
        locks["votes_per_face"] = "votes were collected against this number per face"
        locks["candidate_min_votes"] = "the faces' candidate sets were computed with it"
    if project.model_versions.exists():
        trained = "models were trained with it; a warm start or an export needs the same one"
        locks |= {"model_name": trained, "image_size": trained}
    return locks


def check_settings(project: Project) -> None:
    """Field validation (every setting within its bounds), plus the rules that tie settings together.

    Workers call it too, before they allocate anything for a job: a row changed behind the
    API's back (admin, shell, an older release) must not start a job the machine cannot hold.
    Until labeling starts, the budget plan must run at least one batch after the initial set
    (:func:`~annotator.services.budget_plan.check_plan`); once it has started, the split is fixed
    and a budget spent to its end is how a project finishes, not a mistake.

    Raises:
        InvalidInput: naming each setting out of bounds and the rule it breaks.
    """
    try:
        project.full_clean(exclude=["owner"])
    except ValidationError as error:
        raise InvalidInput(
            "; ".join(f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items())
        ) from error
    if project.initial_selection != InitialSelection.RANDOM and project.ssl_method == SslMethod.NONE:
        raise InvalidInput(
            f"a {project.initial_selection} initial set is picked on the pre-trained embeddings: "
            "choose a self-supervised pre-training method, or the random initial set"
        )
    if project.offer_confirmations and project.training_mode != TrainingMode.SEMI_SUPERVISED:
        raise InvalidInput("pseudo-label confirmations need the semi-supervised (Ada-CM) training mode")
    if (
        project.auxiliary_tasks != AuxiliaryTask.NONE
        and project.training_mode == TrainingMode.SEMI_SUPERVISED
    ):
        raise InvalidInput(
            "auxiliary tasks combine with the supervised, vote_distribution, crowd_model and partial_label "
            "training modes, not with semi_supervised (Ada-CM), whose pseudo-labels and margins scrambled "
            "faces would corrupt"
        )

    if project.omni_supervised_delta is not None and project.training_mode not in OMNI_SUPERVISED_MODES:
        raise InvalidInput(
            "omni-supervised auxiliary faces train with a hard pseudo-label, so they combine with the "
            "supervised and semi_supervised training modes only"
        )
    if project.pk is None or not project.cycles.exists():
        check_plan(project)


OMNI_SUPERVISED_MODES = (TrainingMode.SUPERVISED, TrainingMode.SEMI_SUPERVISED)
"""Modes whose training set takes hard labels: the ones a pseudo-labeled auxiliary face can join."""
