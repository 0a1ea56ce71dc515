"""/api/docs/ (Swagger UI) and /api/redoc/ render the API's operations with no network beyond the server.

Every request to another host is refused by the browser, as on a machine offline: the pages
must come whole from the drf-spectacular-sidecar package's static files.
"""

from __future__ import annotations

from tests.browser.conftest import BROWSER_TEST_MARKS, SCREENSHOTS

pytestmark = BROWSER_TEST_MARKS


def offline(page, live_server) -> list[str]:
    """Refuse every request that leaves the live server; returns the list of refused URLs."""
    refused: list[str] = []

    def route(request_route):
        url = request_route.request.url
        if url.startswith(live_server.url):
            request_route.continue_()
        else:
            refused.append(url)
            request_route.abort()

    page.route("**/*", route)
    return refused


def test_swagger_ui_lists_the_operations_offline(live_server, browser_page):
    page = browser_page
    refused = offline(page, live_server)
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".opblock", timeout=30_000)
    paths = page.eval_on_selector_all(".opblock-summary-path", "nodes => nodes.map(n => n.dataset.path)")
    assert "/api/projects/{project_id}/next-faces/" in paths
    assert "/api/projects/{project_id}/votes/" in paths
    assert len(paths) >= 30
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "api-docs.png"))
    assert refused == []


def test_redoc_lists_the_operations_offline(live_server, browser_page):
    page = browser_page
    refused = offline(page, live_server)
    page.goto(f"{live_server.url}/api/redoc/")
    page.wait_for_selector("text=/api/projects/{project_id}/next-faces/", timeout=30_000)
    # ReDoc's bundle shows its maker's logo from their CDN and drops the image when that fails.
    assert [url for url in refused if not url.endswith("/redoc/logo-mini.svg")] == []
