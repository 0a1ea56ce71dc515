"""A project after a labeling day, for export and round-trip tests: every split, reviews, an exclusion.

Cycle 0 holds a reserved test sample (labeled by votes) and pool faces. Two annotators answer
every face: they agree on the test faces and the first pool faces, split on one pool face (no
label; a reviewer then sets one), one answer is unsure (two classes), one a skip. One pool face
is excluded, one auxiliary face sits beside, and a few pool faces stay unanswered.
"""

from __future__ import annotations

import uuid
from typing import Any

from annotator.models import Face, Project, Role, Split
from annotator.services import exclusions, reviews, votes
from tests.annotator.factories import FaceFactory, UserFactory, add_annotator, make_labeling_project

TEST_SAMPLE = 2


def vote(project: Project, user: Any, face_id: int, *classes: int, kind: str = "label") -> None:
    answer = votes.Answer(kind, tuple(classes))
    votes.submit_vote(project, user, face_id=face_id, answer=answer, client_id=uuid.uuid4())


def labeling_day() -> dict[str, Any]:
    """The project and the faces that matter, by role in the story."""
    project = make_labeling_project(
        pool=12, test=0, votes_per_face=2, budget_votes=40, test_sample_size=TEST_SAMPLE
    )
    first = add_annotator(project, UserFactory(username="ann")).user
    second = add_annotator(project, UserFactory(username="bea")).user
    reviewer = UserFactory(username="rev")
    project.memberships.create(user=reviewer, role=Role.REVIEWER)
    faces = [entry.face for entry in project.cycles.get(number=0).entries.order_by("position")]
    test_faces = [face for face in faces if face.split == Split.TEST]
    pool_faces = [face for face in faces if face.split == Split.POOL]
    assert len(test_faces) == TEST_SAMPLE, "the factory's project reserves a test sample"
    for index, face in enumerate(test_faces):
        vote(project, first, face.pk, index % 4)
        vote(project, second, face.pk, index % 4)
    agreed, disputed, unsure, excluded = pool_faces[:2], pool_faces[2], pool_faces[3], pool_faces[4]
    for index, face in enumerate(agreed):
        vote(project, first, face.pk, index + 1)
        vote(project, second, face.pk, index + 1)
    vote(project, first, disputed.pk, 0)
    vote(project, second, disputed.pk, 3)
    vote(project, first, unsure.pk, 2, 3, kind="unsure")
    vote(project, second, unsure.pk, kind="skip")
    vote(project, first, excluded.pk, 1)
    reviews.review_face(project, reviewer, disputed.pk, 2)
    exclusions.exclude_face(project, project.owner, excluded.pk, reason="not_a_face")
    auxiliary = FaceFactory(project=project, split=Split.AUXILIARY)
    return {
        "project": project,
        "test": test_faces,
        "agreed": agreed,
        "disputed": disputed,
        "unsure": unsure,
        "excluded": excluded,
        "auxiliary": auxiliary,
    }


def exported_faces(project: Project) -> dict[str, Face]:
    """The faces every export must hold (all but the excluded), by pixel checksum."""
    return {face.sha256: face for face in Face.objects.filter(project=project, excluded=False)}
