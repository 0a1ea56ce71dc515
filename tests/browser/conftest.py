"""Browser fixtures: Debian's Chromium driven by Playwright's Python package (never a downloaded browser)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
BROWSER_TEST_MARKS = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"
    ),
]


@pytest.fixture
def browser_page(monkeypatch):
    """A 1280x720 page in Debian's Chromium; never a downloaded browser."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls here are safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.set_default_timeout(15_000)
        yield page
        browser.close()


@pytest.fixture
def two_tabs(browser_page):
    """Two 1280x720 tabs of one browser window: they share cookies, each has its own sessionStorage."""
    context = browser_page.context.browser.new_context(viewport={"width": 1280, "height": 720})
    tabs = [context.new_page(), context.new_page()]
    for tab in tabs:
        tab.set_default_timeout(15_000)
    yield tabs
    context.close()


def log_in(page, live_server, username: str, next_path: str) -> None:
    """Sign in through the login form (factory users' password) and land on ``next_path``."""
    page.goto(f"{live_server.url}/accounts/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", "secret-pass")
    page.click("button[type=submit]")


def shown_face(page, previous: int | None = None, timeout: float = 15_000) -> int:
    """The face id of the face on screen, once one other than ``previous`` is shown."""
    page.wait_for_function(
        "previous => { const f = document.getElementById('face');"
        " return !f.hidden && f.dataset.face && Number(f.dataset.face) !== previous; }",
        arg=previous,
        timeout=timeout,
    )
    return int(page.get_attribute("#face", "data-face"))


def wait_for(condition, timeout: float = 15.0) -> None:
    """Poll a database condition the page's requests should bring about."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the database did not reach the expected state")
        time.sleep(0.1)
