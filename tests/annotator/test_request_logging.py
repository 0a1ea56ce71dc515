"""A refusal is logged as one line: no traceback for a 403 or 404, while a 500 keeps its traceback."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from tests.annotator.factories import add_annotator, make_project

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/projects/{id}/settings/", 403, "Forbidden (Permission denied): /projects/{id}/settings/"),
        ("/api/projects/{id}/invites/", 403, "Forbidden: /api/projects/{id}/invites/"),
        ("/projects/999999/label/", 404, "Not Found: /projects/999999/label/"),
    ],
)
def test_a_refusal_is_one_log_line_without_a_traceback(caplog, path: str, status: int, message: str) -> None:
    project = make_project()
    client = Client(raise_request_exception=False)
    client.force_login(add_annotator(project).user)

    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get(path.format(id=project.pk))

    assert response.status_code == status
    records = [record for record in caplog.records if record.name == "django.request"]
    assert [(record.levelname, record.getMessage()) for record in records] == [
        ("WARNING", message.format(id=project.pk))
    ]
    assert records[0].exc_info is None and records[0].exc_text is None


def test_a_server_error_keeps_its_traceback(caplog) -> None:
    with caplog.at_level(logging.ERROR, logger="django.request"):
        logging.getLogger("django.request").error(
            "Internal Server Error: /x/",
            exc_info=(RuntimeError, RuntimeError("boom"), None),
            extra={"status_code": 500},
        )

    (record,) = [record for record in caplog.records if record.name == "django.request"]
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError
