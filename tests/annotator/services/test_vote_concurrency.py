"""Many annotators at once: the budget, votes per face and client ids hold under real threads.

Each thread has its own database connection, so these run against the real database
(SQLite in WAL mode with IMMEDIATE transactions, or PostgreSQL: see
test_vote_concurrency_postgres.py, which runs this module there).
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connection

from annotator import assignment
from annotator.models import Lease, Project, QueueEntry, Vote
from annotator.services import votes
from annotator.services.errors import ServiceError
from tests.annotator.factories import add_annotator, make_labeling_project

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 12


def run_together(calls: list[Callable[[], object]]) -> list[object]:
    """Start every call at the same moment (a barrier), each in its own thread; outcomes in order."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[object] = [None] * len(calls)

    def worker(index: int) -> None:
        try:
            barrier.wait()
            outcomes[index] = calls[index]()
        except ServiceError as error:
            outcomes[index] = error.code
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def label_vote(project, user, face_id, client_id=None) -> Callable[[], object]:
    answer = votes.Answer("label", (0,))
    return lambda: (
        votes.submit_vote(
            project, user, face_id=face_id, answer=answer, client_id=client_id or uuid.uuid4()
        ).replayed
    )


def test_the_last_votes_of_the_budget_are_spent_exactly_once():
    project = make_labeling_project(pool=THREADS, initial_set_size=THREADS, budget_votes=100)
    Project.objects.filter(pk=project.pk).update(budget_votes=5)
    project.refresh_from_db()
    users = [add_annotator(project).user for _ in range(THREADS)]
    faces = list(project.cycles.get().entries.values_list("face_id", flat=True))

    outcomes = run_together([label_vote(project, u, i) for u, i in zip(users, faces, strict=True)])

    assert Counter(outcomes) == {False: 5, "budget_spent": THREADS - 5}
    assert Project.objects.get(pk=project.pk).votes_spent == 5
    assert Vote.objects.count() == 5


def test_a_face_never_gets_more_votes_than_it_needs():
    project = make_labeling_project(pool=3, initial_set_size=3, votes_per_face=2, budget_votes=100)
    users = [add_annotator(project).user for _ in range(THREADS)]
    face = project.cycles.get().entries.first().face_id

    outcomes = run_together([label_vote(project, u, face) for u in users])

    assert Counter(outcomes) == {False: 2, "face_not_available": THREADS - 2}
    assert Vote.objects.filter(face_id=face).count() == 2
    assert QueueEntry.objects.get(face_id=face).votes_received == 2
    assert Project.objects.get(pk=project.pk).votes_spent == 2


def test_concurrent_next_faces_never_overbook_a_face():
    project = make_labeling_project(pool=4, initial_set_size=4, votes_per_face=2, budget_votes=100)
    users = [add_annotator(project).user for _ in range(THREADS)]

    outcomes = run_together([lambda u=u: len(assignment.next_faces(project, u, 2)) for u in users])

    assert sum(outcomes) == 8  # 4 faces x 2 votes each: every slot handed out once
    per_face = Counter(Lease.objects.values_list("entry_id", flat=True))
    assert set(per_face.values()) == {2}
    assert all(e.slots_taken == 2 for e in QueueEntry.objects.all())


def test_the_same_client_id_sent_in_parallel_counts_once():
    project = make_labeling_project()
    user = add_annotator(project).user
    face = project.cycles.get().entries.first().face_id
    client_id = uuid.uuid4()

    outcomes = run_together([label_vote(project, user, face, client_id) for _ in range(6)])

    assert Counter(outcomes) == {True: 5, False: 1}
    assert Vote.objects.count() == 1
    assert Project.objects.get(pk=project.pk).votes_spent == 1


def test_every_annotator_asking_at_once_gets_a_face(monkeypatch):
    monkeypatch.setattr(assignment, "EXTRA_CANDIDATES", 0)  # each look sees just the first open face
    project = make_labeling_project(pool=40, initial_set_size=40, budget_votes=100)
    users = [add_annotator(project).user for _ in range(THREADS)]

    outcomes = run_together([lambda u=u: len(assignment.next_faces(project, u, 1)) for u in users])

    assert outcomes == [1] * THREADS  # losers of a race look again
    assert Lease.objects.values("entry_id").distinct().count() == THREADS
