"""The budget planner: how a budget of votes splits into test sample, initial set and batches.

A project's budget pays, in this order, for the test sample's votes (labeled first, never
trained on), the initial set's, then batch after batch the models pick, until what is left
pays for no whole face (the remainder). A plan whose test sample and initial set leave no
face for a batch after the initial set never runs a single turn of the loop: the first model
trains, ranks the pool, and nobody can label what it ranked. :func:`check_plan` refuses such
plans (``projects.check_settings`` calls it while labeling has not started), naming the fields.

The arithmetic lives in :func:`plan_budget` alone: the API serves its result
(``/api/budget-plan/``), and the new-project and settings pages only render it.
"""

from __future__ import annotations

from dataclasses import dataclass

from annotator.models import Face, Project, Split
from annotator.selectors import evaluation_split, pretraining_speed, training_speed
from annotator.services.errors import InvalidInput

PLAN_FIELDS = ("budget_votes", "votes_per_face", "batch_size", "initial_set_size", "test_sample_size")
"""The settings a plan depends on; the planner takes any of them as an override of the saved ones."""


@dataclass(frozen=True)
class FaceCounts:
    """The faces a plan draws from: ``pool`` and ``test`` faces (0 before an import)."""

    pool: int = 0
    test: int = 0
    labeled_test: int = 0
    started: bool = False


def face_counts(project: Project) -> FaceCounts:
    """What is imported (and, once labeling started, reserved) in a saved project."""
    if project.pk is None:
        return FaceCounts()
    faces = Face.objects.filter(project=project, excluded=False)
    return FaceCounts(
        pool=faces.filter(split=Split.POOL).count(),
        test=faces.filter(split=Split.TEST).count(),
        labeled_test=evaluation_split.labeled_test_faces(project),
        started=project.cycles.exists(),
    )


def _test_faces(project: Project, counts: FaceCounts) -> tuple[int, str]:
    """Test faces the budget pays votes for, and where the number comes from."""
    if counts.labeled_test:
        return 0, f"{counts.labeled_test} labeled test faces were imported: no test sample is voted on"
    if counts.started:
        return counts.test, "the test faces reserved when labeling started"
    if counts.pool or counts.test:
        return evaluation_split.sample_size(
            project, counts.pool + counts.test
        ), "reserved from the pool when labeling starts"
    if project.test_sample_size is None:
        return 0, "5% of the pool (at most 500), known once faces are imported"
    capped = max(0, min(project.test_sample_size, project.budget_votes // project.votes_per_face // 2))
    return capped, "reserved from the pool when labeling starts (at most half the budget's faces)"


def plan_budget(project: Project, counts: FaceCounts | None = None) -> dict[str, object]:
    """The split of ``project``'s budget, the retrains it leads to with their estimated length, and
    ``problems``: per field, why the plan cannot run (empty when it can)."""
    counts = face_counts(project) if counts is None else counts
    per_face = project.votes_per_face
    test_faces, test_source = _test_faces(project, counts)
    initial_faces = project.initial_set_size
    if counts.pool and not counts.started:
        initial_faces = min(initial_faces, max(counts.pool - test_faces, 0))
    test_votes, initial_votes = test_faces * per_face, initial_faces * per_face
    left = project.budget_votes - test_votes - initial_votes
    batch_votes = project.batch_size * per_face
    full_batches = max(left, 0) // batch_votes
    last_batch_faces = (max(left, 0) - full_batches * batch_votes) // per_face
    remainder = max(left, 0) - full_batches * batch_votes - last_batch_faces * per_face
    batch_faces = full_batches * project.batch_size + last_batch_faces
    speed = training_speed.training_speed()
    first = training_speed.retrain_seconds(
        initial_faces, training_speed.training_epochs(project, has_model=False), speed
    )
    last_epochs = training_speed.training_epochs(project, has_model=True)
    return {
        "budget_votes": project.budget_votes,
        "votes_per_face": per_face,
        "test_sample": {"faces": test_faces, "votes": test_votes, "source": test_source},
        "initial_set": {"faces": initial_faces, "votes": initial_votes},
        "batches": {
            "full": full_batches,
            "size": project.batch_size,
            "votes_each": batch_votes,
            "last_faces": last_batch_faces,
            "faces": batch_faces,
            "votes": batch_faces * per_face,
        },
        "remainder_votes": remainder if left >= 0 else left,
        "trainings": 1 + full_batches + (1 if last_batch_faces else 0),
        "retrain": {
            "first_seconds": first,
            "last_seconds": training_speed.retrain_seconds(initial_faces + batch_faces, last_epochs, speed),
            "speed": speed.as_dict(),
        },
        "pretraining": pretraining_speed.pretraining_estimate(
            project, _pretraining_faces(counts, test_faces)
        ),
        # Once labeling started the split is fixed: a budget spent to its end is how a project finishes.
        "problems": {} if counts.started else _problems(project, test_faces, initial_faces, left),
    }


def _pretraining_faces(counts: FaceCounts, test_faces: int) -> int:
    """The pool faces pre-training runs over: the pool, less the test sample it reserves when
    labeling starts beyond the unlabeled test faces imported (services/evaluation_split.py)."""
    if counts.started or counts.labeled_test:
        return counts.pool
    return max(counts.pool - max(test_faces - counts.test, 0), 0)


def _problems(project: Project, test_faces: int, initial_faces: int, left: int) -> dict[str, list[str]]:
    """Why the plan cannot run one turn of the loop after the initial set, per field at fault."""
    per_face = project.votes_per_face
    if left >= per_face:
        return {}
    spent = project.budget_votes - left
    parts = f"The initial set ({initial_faces} faces x {per_face} votes = {initial_faces * per_face})"
    if test_faces:
        parts = (
            f"The test sample ({test_faces} faces x {per_face} votes = {test_faces * per_face}) and "
            + parts.replace("The", "the", 1)
        )
    take = "take" if test_faces else "takes"
    if left <= 0:
        reason = f"{parts} {take} {spent} votes, the whole budget of {project.budget_votes}"
    else:
        reason = (
            f"{parts} {take} {spent} of the {project.budget_votes} votes; the {left} left pay for no face "
            f"at {per_face} votes each"
        )
    most_initial = (project.budget_votes - test_faces * per_face - per_face) // per_face
    at_least = spent + project.batch_size * per_face
    problems = {
        "budget_votes": [
            f"{reason}: no batch can follow the initial set. A budget of at least {at_least} votes pays for "
            "one full batch after it."
        ],
        "initial_set_size": [
            f"{reason}: no batch can follow the initial set. "
            + (
                f"An initial set of at most {most_initial} faces leaves votes for one."
                if most_initial >= 1
                else "Even one face leaves none: raise the budget."
            )
        ],
    }
    if test_faces:
        problems["test_sample_size"] = [f"{reason}: a smaller test sample leaves votes for a batch."]
    return problems


def check_plan(project: Project) -> None:
    """Refuse a plan that runs no turn of the loop after the initial set (see the module docstring).

    Raises:
        InvalidInput: with ``fields`` naming each setting at fault and why.
    """
    problems = plan_budget(project)["problems"]
    if problems:
        assert isinstance(problems, dict)
        raise InvalidInput(next(iter(problems.values()))[0], fields=problems)
