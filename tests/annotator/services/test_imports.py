"""An import is its job's work: claimed by the request, finished, cancelled or failed as every job is."""

from __future__ import annotations

import pytest

from annotator import ml_bridge
from annotator.models import Face, Job, JobState
from annotator.services import import_jobs, imports
from annotator.services.errors import Conflict, InvalidInput
from tests.annotator.factories import make_project

pytestmark = pytest.mark.django_db


def test_a_waiting_job_is_claimed_by_the_import_and_ends_with_its_summary() -> None:
    project = make_project()
    job = import_jobs.create_import_job(project)

    summary = imports.import_dataset(project, ml_bridge.synthetic_faces(5, seed=1), split="pool", job=job)

    job.refresh_from_db()
    assert summary.created == 5
    assert (job.state, job.progress, job.attempts, job.stage) == (JobState.SUCCEEDED, 1.0, 1, "storing faces")
    assert job.message == "5 faces imported, 0 duplicates skipped"
    assert job.result["created"] == 5 and job.worker != ""


def test_a_cancelled_import_keeps_the_faces_it_stored_and_says_so(monkeypatch) -> None:
    monkeypatch.setattr(imports, "CHUNK_SIZE", 2)
    project = make_project()
    job = import_jobs.create_import_job(project, claimed=True)
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)

    summary = imports.import_dataset(project, ml_bridge.synthetic_faces(5, seed=1), split="pool", job=job)

    job.refresh_from_db()
    assert (summary.cancelled, summary.created, Face.objects.count()) == (True, 2, 2)
    assert (job.state, job.progress) == (JobState.CANCELLED, 0.4)
    assert job.message == "2 faces imported, 0 duplicates skipped, cancelled"
    assert (job.result["created"], job.result["cancelled"]) == (2, True)


def test_a_refused_import_fails_its_job_with_the_reason_and_raises_it() -> None:
    project = make_project()
    job = import_jobs.create_import_job(project, claimed=True)

    with pytest.raises(InvalidInput, match="split must be one of"):
        imports.import_dataset(project, ml_bridge.synthetic_faces(2, seed=1), split="elsewhere", job=job)

    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert job.message.startswith("split must be one of")
    assert not Face.objects.exists()


def test_a_job_that_already_has_its_upload_is_not_run_twice() -> None:
    project = make_project()
    job = import_jobs.create_import_job(project, claimed=True)
    imports.import_dataset(project, ml_bridge.synthetic_faces(2, seed=1), split="pool", job=job)

    with pytest.raises(Conflict):
        import_jobs.claim_import_job(Job.objects.get(pk=job.pk))
    assert Face.objects.count() == 2
