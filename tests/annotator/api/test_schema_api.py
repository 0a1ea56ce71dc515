"""What the OpenAPI schema promises, checked fast: pages, query values, download types, methods.

The live schemathesis run (``test_openapi_conformance``) covers every operation; these
pin the findings of the outside probe one by one.
"""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from annotator.models import Project
from annotator.services import exports
from annotator.services.projects import MAX_CLASSES
from tests.annotator.factories import (
    FaceFactory,
    UserFactory,
    make_labeling_project,
    make_project,
    publish_test_offers,
)

pytestmark = pytest.mark.django_db

PAGINATED_LISTS = ["", "votes/", "members/", "cycles/", "model-versions/", "jobs/"]


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def response_schema(schema: dict, path: str, method: str, status: str) -> dict:
    content = schema["paths"][path][method]["responses"][status]["content"]
    return content["application/json"]["schema"]


def resolve(schema: dict, reference: dict) -> dict:
    return schema["components"]["schemas"][reference["$ref"].rsplit("/", 1)[1]]


@pytest.mark.parametrize("tail", PAGINATED_LISTS)
def test_paginated_lists_are_documented_as_pages(schema: dict, tail: str) -> None:
    path = "/api/projects/" if not tail else "/api/projects/{project_id}/" + tail
    page = resolve(schema, response_schema(schema, path, "get", "200"))
    assert page["required"] == ["count", "results"]
    assert page["properties"]["results"]["type"] == "array"
    parameters = {p["name"]: p for p in schema["paths"][path]["get"]["parameters"] if p["in"] == "query"}
    assert parameters["page"]["schema"] == {"type": "integer", "minimum": 1}
    assert set(schema["paths"][path]["get"]["responses"]) == {"200", "400", "403", "404"}


def test_start_and_retrain_are_documented_as_201(schema: dict) -> None:
    for tail in ("start/", "retrain/"):
        responses = schema["paths"]["/api/projects/{project_id}/" + tail]["post"]["responses"]
        assert set(responses) == {"201", "403", "404", "409"}


def test_job_cancel_takes_post_only(client_for, schema: dict) -> None:
    project = make_project()
    job = exports.request_export(project, what="labels", format="csv")

    assert client_for(project.owner).get(f"/api/jobs/{job.pk}/cancel/").status_code == 405
    assert set(schema["paths"]["/api/jobs/{job_id}/cancel/"]) == {"post"}
    job.refresh_from_db()
    assert not job.cancel_requested


@pytest.mark.parametrize(
    ("tail", "parameter"),
    [
        ("faces/?split=AAA", "split"),
        ("faces/?split=", "split"),
        ("offers/next/?count=", "count"),
        ("offers/next/?count=11", "count"),
        ("votes/?page=", "page"),
        ("votes/?page=0", "page"),
        ("votes/?page=last", "page"),
        ("members/?page=abc", "page"),
    ],
)
def test_malformed_query_values_are_refused_naming_the_parameter(
    client_for, tail: str, parameter: str
) -> None:
    project = make_labeling_project(pool=2, test=1)

    response = client_for(project.owner).get(f"/api/projects/{project.pk}/{tail}")

    assert response.status_code == 400
    assert list(response.json()) == [parameter]


def test_a_page_past_the_end_is_404_and_a_valid_split_filters(client_for) -> None:
    project = make_labeling_project(pool=3, test=2)
    client = client_for(project.owner)

    assert client.get(f"/api/projects/{project.pk}/members/?page=2").status_code == 404
    test_faces = client.get(f"/api/projects/{project.pk}/faces/?split=test").json()
    assert len(test_faces["results"]) == 2
    assert {face["split"] for face in test_faces["results"]} == {"test"}


def test_offers_count_within_bounds_is_accepted(client_for) -> None:
    project = make_project(training_mode="semi_supervised", offer_confirmations=True)
    face = FaceFactory(project=project)
    publish_test_offers(project, [(face.pk, 1, 0.9)])

    response = client_for(project.owner).get(f"/api/projects/{project.pk}/offers/next/?count=10")

    assert response.status_code == 200
    assert [offer["face"] for offer in response.json()] == [face.pk]


@pytest.mark.parametrize(
    ("format", "content_type"),
    [("csv", "text/csv"), ("jsonl", "application/jsonl"), ("imagefolder", "application/zip")],
)
def test_downloads_are_sent_as_their_documented_type(
    client_for, schema: dict, django_capture_on_commit_callbacks, format: str, content_type: str
) -> None:
    project = make_labeling_project(pool=3, test=1)
    with django_capture_on_commit_callbacks(execute=False):
        job = exports.request_export(project, what="labels", format=format)
    exports.run_export_job(job.pk)

    response = client_for(project.owner).get(f"/api/jobs/{job.pk}/download/")

    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    documented = schema["paths"]["/api/jobs/{job_id}/download/"]["get"]["responses"]["200"]["content"]
    assert set(documented) == {"text/csv", "application/jsonl", "application/zip", "application/octet-stream"}


@pytest.mark.parametrize(
    ("count", "message"), [(1, "at least two classes"), (MAX_CLASSES + 1, f"at most {MAX_CLASSES} classes")]
)
def test_a_class_count_out_of_range_is_refused_not_a_server_error(
    client_for, count: int, message: str
) -> None:
    user = UserFactory()
    body = {"name": "Faces", "budget_votes": 10, "classes": [{"name": f"class {i}"} for i in range(count)]}

    response = client_for(user).post("/api/projects/", body, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["classes"]
    assert message in response.json()["classes"]["non_field_errors"][0]
    assert not Project.objects.exists()


def test_the_largest_class_count_gets_a_key_for_each_class(client_for) -> None:
    body = {
        "name": "Faces",
        "budget_votes": 1000,
        "classes": [{"name": f"class {i}"} for i in range(MAX_CLASSES)],
    }

    response = client_for(UserFactory()).post("/api/projects/", body, format="json")

    assert response.status_code == 201, response.content
    keys = [spec["key"] for spec in response.json()["classes"]]
    assert len(set(keys)) == MAX_CLASSES
