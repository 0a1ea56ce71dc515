"""Where a project's budget stands, in numbers and in the one sentence every page shows. No writes.

The labeling page, the dashboard, the settings page and the project list each used to word the
budget themselves, and they disagreed at its end: with 1 vote left and 3 votes per face, one
said "1 left" while another said "the budget is spent". A budget is spent when what is left pays
for no whole face (:func:`budget_spent`), and every page takes its sentence from :func:`budget_status`.
"""

from __future__ import annotations

from annotator.models import Project


def budget_spent(project: Project) -> bool:
    """True when the votes left pay for no whole new face: no batch can follow (a face of the open
    batch still short of its votes may take the last few)."""
    return project.votes_left < project.votes_per_face


def budget_sentence(project: Project) -> str:
    spent, total, left, per_face = (
        project.votes_spent,
        project.budget_votes,
        project.votes_left,
        project.votes_per_face,
    )
    if not budget_spent(project):
        faces = left // per_face
        each = f" at {per_face} votes each" if per_face > 1 else ""
        return f"{spent} of {total} votes spent; {left} left, enough for {faces} more face{'s' if faces != 1 else ''}{each}."
    if left:
        return f"The budget is spent: {spent} of {total} votes; the {left} left pay for no new face at {per_face} votes each."
    return f"The budget is spent: {spent} of {total} votes."


def budget_status(project: Project) -> dict[str, object]:
    """The budget's numbers and its sentence, as the API gives them to every page."""
    return {
        "total": project.budget_votes,
        "spent": project.votes_spent,
        "left": project.votes_left,
        "is_spent": budget_spent(project),
        "sentence": budget_sentence(project),
    }
