"""With DEBUG at its default, errors show nothing of the settings, the URLs or the code.

An outside probe got Django's debug pages from a bad ``Host`` header (settings listed), an
unknown URL (URL patterns listed) and a server error (a traceback). These tests ask for the
same with the default settings, in this process and from the web server ``make run`` starts,
and check the bodies for every secret and path those pages used to show.
"""

from __future__ import annotations

import runpy
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import path
from rest_framework.request import Request
from rest_framework.views import APIView

from annotator import processes
from annotator.urls import handler400, handler403, handler404, handler500  # noqa: F401 - used by Django
from annotator.urls import urlpatterns as site_urlpatterns
from tests.conftest import database_url

SETTINGS_FILE = Path(__file__).resolve().parents[2] / "annotator" / "settings.py"
SECRET = "leak-check-secret-key-0123456789"
WEB_START_TIMEOUT_SECONDS = 120


def failing_page(request):
    raise RuntimeError(f"forced failure, key {django_settings.SECRET_KEY}")


class FailingApiView(APIView):
    permission_classes: list = []

    def get(self, request: Request):
        raise RuntimeError(f"forced failure, key {django_settings.SECRET_KEY}")


# This module is the URLconf of the tests marked with it: the site plus two views that fail.
urlpatterns = [
    path("forced-error/", failing_page),
    path("api/forced-error/", FailingApiView.as_view()),
    *site_urlpatterns,
]


def default_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **environment: str) -> dict:
    """The settings module run afresh with DEBUG unset (plus ``environment``)."""
    monkeypatch.delenv("DEBUG", raising=False)
    monkeypatch.setenv("FACELOOP_VAR_DIR", str(tmp_path / "var"))
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS_FILE))


def test_debug_is_off_unless_a_developer_turns_it_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert default_settings(monkeypatch, tmp_path)["DEBUG"] is False
    assert default_settings(monkeypatch, tmp_path, DEBUG="true")["DEBUG"] is True


def leaked(body: str, settings) -> list[str]:
    """What of the settings, URL patterns or code a response body gives away."""
    secrets = [
        SECRET,
        str(settings.BASE_DIR),
        str(settings.MEDIA_ROOT),
        str(settings.VAR_DIR),
        settings.REDIS_URL,
        "REDIS_URL",
        "CELERY_BROKER_URL",
        "DATABASES",
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "MEDIA_ROOT",
        "BASE_DIR",
        "Traceback",
        "forced failure",
        "RuntimeError",
        "DisallowedHost",
        "URLconf",
        "int:project_id",
        "admin/",
        "healthz",
        "evil.example",
        ".py",
    ]
    return [secret for secret in secrets if secret in body]


@pytest.fixture
def visitor(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings) -> Client:
    settings.DEBUG = default_settings(monkeypatch, tmp_path)["DEBUG"]
    settings.SECRET_KEY = SECRET
    return Client(raise_request_exception=False)


@pytest.mark.urls(__name__)
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "host", "status", "page_title", "api_detail"),
    [
        ("/", "evil.example", 400, "Bad request", None),
        ("/api/projects/", "evil.example", 400, None, "Bad request."),
        ("/no/such/page/", "localhost", 404, "Not found", None),
        ("/api/no/such/resource/", "localhost", 404, None, "Not found."),
        ("/forced-error/", "localhost", 500, "Something went wrong", None),
        ("/api/forced-error/", "localhost", 500, None, "Server error."),
    ],
)
def test_errors_give_a_plain_answer_and_nothing_else(
    visitor: Client,
    settings,
    url: str,
    host: str,
    status: int,
    page_title: str | None,
    api_detail: str | None,
) -> None:
    assert settings.DEBUG is False
    response = visitor.get(url, HTTP_HOST=host)
    body = response.content.decode()
    assert response.status_code == status
    assert leaked(body, settings) == []
    if api_detail is not None:
        assert (response["Content-Type"], response.json()) == ("application/json", {"detail": api_detail})
    else:
        assert response["Content-Type"] == "text/html; charset=utf-8"
        assert f"<h1>{page_title}</h1>" in body
        assert '<a class="brand" href="/">FaceLoop</a>' in body


@pytest.mark.urls(__name__)
@pytest.mark.django_db
def test_the_leak_check_catches_the_debug_pages_it_guards_against(visitor: Client, settings) -> None:
    """A control: with DEBUG on, the same requests show what the check looks for."""
    settings.DEBUG = True
    assert "ALLOWED_HOSTS" in leaked(visitor.get("/", HTTP_HOST="evil.example").content.decode(), settings)
    assert "int:project_id" in leaked(visitor.get("/no/such/page/").content.decode(), settings)
    assert "Traceback" in leaked(visitor.get("/forced-error/").content.decode(), settings)


@pytest.mark.parametrize("debug", [False, True])
def test_static_files_are_served_with_debug_off_and_on(visitor: Client, settings, debug: bool) -> None:
    settings.DEBUG = debug
    response = Client().get("/static/annotator/app.css")
    assert (response.status_code, response["Content-Type"]) == (200, 'text/css; charset="utf-8"')
    css = Path(settings.BASE_DIR, "frontend", "static", "annotator", "app.css").read_bytes()
    assert b"".join(response.streaming_content) == css
    assert visitor.get("/static/annotator/../../templates/base.html").status_code == 404


def fetch(url: str, host: str | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode(errors="replace")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.django_db
def test_the_web_server_of_make_run_serves_static_files_and_no_debug_page(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings
) -> None:
    """The server ``make run`` starts, with the environment a user has (no DEBUG set)."""
    monkeypatch.delenv("DEBUG", raising=False)
    port = processes.free_port()
    environment = {
        "SECRET_KEY": SECRET,
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "REDIS_URL": "redis://127.0.0.1:9/0",
    }
    log = tmp_path / "web.log"
    base = f"http://127.0.0.1:{port}"
    with processes.ProcessGroup() as group:
        web = group.add(processes.start_web(port, env=environment, log=log))
        processes.wait_until(lambda: _answers(base), WEB_START_TIMEOUT_SECONDS, "the web server", web)
        status, content_type, css = fetch(f"{base}/static/annotator/app.css")
        assert (status, content_type) == (200, 'text/css; charset="utf-8"')
        assert css == Path(settings.BASE_DIR, "frontend", "static", "annotator", "app.css").read_text()
        settings.REDIS_URL = environment["REDIS_URL"]
        for url, host, expected in [
            (f"{base}/", "evil.example", 400),
            (f"{base}/api/projects/", "evil.example", 400),
            (f"{base}/no/such/page/", None, 404),
            (f"{base}/api/no/such/resource/", None, 404),
        ]:
            status, _, body = fetch(url, host)
            assert status == expected, (url, log.read_text()[-2000:])
            assert leaked(body, settings) == []
        assert fetch(f"{base}/media/projects/1/faces/ab/x.png")[0] == 302


def _answers(base: str) -> bool:
    try:
        return fetch(f"{base}/static/annotator/app.css")[0] == 200
    except OSError:
        return False
