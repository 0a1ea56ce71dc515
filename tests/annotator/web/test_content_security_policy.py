"""Every page sends a Content-Security-Policy without 'unsafe-inline' scripts, and needs none.

Before, pages sent no policy at all, and two templates drew with inline style attributes. The
markup check here finds what the policy would refuse: a <script> with code in it (a JSON data
block is not run), an on* handler attribute, a style attribute or a <style> element.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client

from annotator.services import invites
from tests.annotator.factories import make_labeling_project

pytestmark = pytest.mark.django_db

POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


def directives(header: str) -> dict[str, list[str]]:
    """The policy's directives by name (django-csp does not keep their order)."""
    return {name: values for name, *values in (part.split() for part in header.split(";"))}


class InlineCode(HTMLParser):
    """Collects what a strict policy refuses in a page's markup."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._open_script: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        self.found += [f"<{tag} {name}>" for name in names if name.startswith("on") or name == "style"]
        if tag == "style":
            self.found.append("<style>")
        if tag == "script":
            self._open_script = names

    def handle_data(self, data: str) -> None:
        script = self._open_script
        if script is not None and data.strip() and script.get("type") != "application/json":
            self.found.append(f"<script> with code: {data.strip()[:40]!r}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._open_script = None


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


@pytest.fixture
def pages() -> tuple[Client, list[str]]:
    """An owner's client and every kind of page, with the project's first face for the face page."""
    project = make_labeling_project()
    client = Client()
    client.force_login(project.owner)
    face = project.faces.first().pk
    token = invites.create_invite(project, project.owner).token
    base = f"/projects/{project.pk}"
    paths = ["/", "/projects/new/", "/no/such/page/", f"/invite/{token}/"] + [
        f"{base}/{tail}/"
        for tail in ("label", "confirm", "dashboard", "import", "settings", "team", "review", "faces")
    ]
    return client, [*paths, f"{base}/faces/{face}/"]


def test_every_page_sends_the_strict_policy_and_has_no_inline_code(pages) -> None:
    client, paths = pages
    anonymous = Client().get("/accounts/login/")

    answers = {path: client.get(path) for path in paths} | {"/accounts/login/": anonymous}

    assert {path: answer.status_code for path, answer in answers.items()} == {
        path: 404 if path == "/no/such/page/" else 200 for path in answers
    }
    for path, answer in answers.items():
        assert directives(answer["Content-Security-Policy"]) == POLICY, path
        assert inline_code(answer.content.decode()) == [], path


def test_the_markup_check_finds_what_the_policy_refuses() -> None:
    """A control: the check is not blind to the three kinds of inline code."""
    html = (
        '<script type="application/json">{"a": 1}</script><script src="/s.js"></script>'
        '<script>alert(1)</script><button onclick="go()">x</button><span style="width:3%"></span>'
    )
    assert inline_code(html) == [
        "<script> with code: 'alert(1)'",
        "<button onclick>",
        "<span style>",
    ]


def test_only_the_api_docs_add_inline_styles_and_never_inline_scripts() -> None:
    client = Client()
    for path in ("/api/docs/", "/api/redoc/"):
        policy = directives(client.get(path)["Content-Security-Policy"])
        assert policy == {
            **POLICY,
            "style-src": ["'self'", "'unsafe-inline'"],
            "worker-src": ["'self'", "blob:"],
        }, path
    assert inline_code(client.get("/api/redoc/").content.decode()) == ["<style>"]
    swagger = client.get("/api/docs/").content.decode()
    assert inline_code(swagger) == ["<style>"]
    assert '<script src="/api/docs/?script="></script>' in swagger
