"""The OpenAPI schema describes what the API really answers, checked by schemathesis on a live server.

Every operation of ``/api/schema/`` gets generated requests (boundary and negative values
from the schema, then a bounded number of random ones), sent over HTTP with an owner's
token. Each response must be no server error, carry a status code and a content type the
operation documents and match the documented body; a value the schema forbids
(``split=AAA``, ``page=``, ``count=``, a missing required field) must be refused with a 4xx.

Path parameters are pinned to the seeded project and its objects, so the requests reach
real rows (a random id would only ever meet a 404). Jobs never reach a worker: the test
replaces ``send_task``, and the export to download is written in-process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import requests
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.core.mutations import OperatorKind
from schemathesis.core.parameters import ParameterLocation
from schemathesis.engine import Status, events
from schemathesis.generation.meta import CoveragePhaseData, CoverageScenario

from annotator.celery import app as celery_app
from annotator.services import exports
from tests.annotator.factories import UserFactory, add_annotator, make_labeling_project, publish_test_offers

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

OWNER, PASSWORD = "schema-owner", "secret-pass"
PINNED_PATH_PARAMETERS = ("project_id", "face_id", "membership_id", "offer_id", "job_id")
RANDOM_EXAMPLES_PER_OPERATION = 10


def mutation_kind(operator: OperatorKind, keywords: tuple[str, ...]) -> str | None:
    if operator == OperatorKind.CHANGE_TYPE:
        return "type"
    return "unknown" if "additionalProperties" in keywords else None


FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
COVERAGE_KINDS = {
    CoverageScenario.INCORRECT_TYPE: "type",
    CoverageScenario.OBJECT_UNEXPECTED_PROPERTIES: "unknown",
}


def negates_what_the_server_may_accept(case: schemathesis.Case) -> bool:
    """Whether a negative case only breaks the schema where the request may still be valid.

    Four kinds, each accepted by design: a body value of another JSON type, which DRF's
    fields read the way a form sends it (0 as "0" for text, "0" or 0 as false for a boolean,
    "5" as 5 for an integer); an empty field in a form body, which DRF reads as a field left
    out (an HTML form sends its empty inputs); a query parameter the operation does not
    know, ignored as an unknown body field is (a cache-buster, say); and a pinned path
    parameter, which the pin puts back before the request is sent. Every other rule the
    schema states (required fields, bounds, choices, formats, the value of every known query
    parameter) must be refused.
    """
    data = case.meta.phase.data if case.meta is not None else None
    if data is None:
        return False
    if case.media_type in FORM_MEDIA_TYPES and isinstance(case.body, dict) and "" in case.body.values():
        return True
    if isinstance(data, CoveragePhaseData):
        mutations = [(data.parameter_location, data.parameter, COVERAGE_KINDS.get(data.scenario))]
    else:
        mutations = [
            (
                mutation.parameter_location,
                mutation.parameter,
                mutation_kind(mutation.operator, mutation.keywords),
            )
            for mutation in data.mutations
        ]
    return bool(mutations) and all(
        (location == ParameterLocation.BODY and kind == "type")
        or (location == ParameterLocation.QUERY and kind == "unknown")
        or (location == ParameterLocation.PATH and name in PINNED_PATH_PARAMETERS)
        for location, name, kind in mutations
    )


def filter_case(context: schemathesis.HookContext, case: schemathesis.Case) -> bool:
    """Schemathesis hook: send no case that :func:`negates_what_the_server_may_accept`."""
    negative = case.meta is not None and case.meta.generation.mode.is_negative
    return not (negative and negates_what_the_server_may_accept(case))


CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
)


@dataclass
class Run:
    """What one schemathesis run did: operations in the schema and tested, requests sent, failed checks."""

    documented: set[str] = field(default_factory=set)
    tested: set[str] = field(default_factory=set)
    requests: int = 0
    failures: list[str] = field(default_factory=list)


def run_schemathesis(schema_url: str, headers: dict[str, str], path_parameters: dict[str, int]) -> Run:
    config = SchemathesisConfig.from_dict(
        {
            "headers": headers,
            "parameters": {f"path.{name}": value for name, value in path_parameters.items()},
            "generation": {
                "max-examples": RANDOM_EXAMPLES_PER_OPERATION,
                "deterministic": True,
                "database": "none",
            },
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "phases": {
                # Boundary cases only where they break the schema; random ones cover the valid side.
                "coverage": {"generation": {"mode": "negative"}, "unexpected-methods": []},
                "stateful": {"enabled": False},
            },
            "workers": 1,
            "cache": {"enabled": False},
        }
    )
    schema = schemathesis.openapi.from_url(schema_url, config=config, timeout=30)
    schema.hook(filter_case)
    run = Run(documented={result.ok().label for result in schema.get_all_operations()})
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            run.tested.add(recorder.label)
            run.requests += len(recorder.cases)
            for nodes in recorder.checks.values():
                run.failures += [
                    f"{recorder.label}: {node.failure_info.failure.title}: {node.failure_info.failure.message}"
                    f"\n{node.failure_info.code_sample}"
                    for node in nodes
                    if node.status == Status.FAILURE and node.failure_info is not None
                ]
        elif isinstance(event, events.NonFatalError | events.FatalError):
            run.failures.append(f"schemathesis could not test: {event}")
    return run


@pytest.fixture
def no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Jobs are created but never sent: requests that start one need no broker and no worker."""
    monkeypatch.setattr(celery_app, "send_task", lambda *args, **kwargs: None)


@pytest.fixture
def seeded(no_broker: None) -> dict[str, int]:
    """An owner's project with faces, an open batch, an annotator, a model version with an offer, a finished export."""
    project = make_labeling_project(
        owner=UserFactory(username=OWNER),
        pool=8,
        test=2,
        training_mode="semi_supervised",
        offer_confirmations=True,
    )
    annotator = add_annotator(project)
    face = project.faces.filter(split="pool").order_by("id").first()
    offer = publish_test_offers(project, [(face.pk, 1, 0.95)])[0]
    export_job = exports.request_export(project, what="labels", format="csv")
    exports.run_export_job(export_job.pk)
    return dict(
        zip(PINNED_PATH_PARAMETERS, [project.pk, face.pk, annotator.pk, offer.pk, export_job.pk], strict=True)
    )


@pytest.fixture
def token_headers(live_server, seeded: dict[str, int]) -> dict[str, str]:
    response = requests.post(
        f"{live_server.url}/api/auth/token/", json={"username": OWNER, "password": PASSWORD}, timeout=30
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Token {response.json()['token']}"}


def test_every_operation_answers_as_documented(
    live_server, seeded: dict[str, int], token_headers: dict[str, str]
) -> None:
    run = run_schemathesis(f"{live_server.url}/api/schema/", token_headers, seeded)

    print(
        f"schemathesis: {len(run.tested)} operations, {run.requests} requests, {len(run.failures)} failures"
    )
    assert not run.failures, "\n\n".join(run.failures)
    assert run.tested == run.documented
