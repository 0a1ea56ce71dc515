"""Every kind of page works in real Chromium under the Content-Security-Policy: no violation, no console error.

The policy allows no inline script or style; a page that still used one would lose its
behaviour or its look silently, with only a console line to say so. This visits each kind
of page (signed out, owner, invitee, API docs), lets its scripts run, and collects every
``securitypolicyviolation`` event, console error and uncaught exception.
"""

from __future__ import annotations

from annotator.services import invites
from tests.annotator.factories import cast_vote, make_labeling_project
from tests.browser.conftest import BROWSER_TEST_MARKS, log_in

pytestmark = BROWSER_TEST_MARKS

WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
  (event) => window.__violations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`));
"""

REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
"""ReDoc's bundle shows its maker's logo from their CDN: refused, as the policy should (and offline)."""
FAVICON = "/favicon.ico)"
"""The end of the 404 line for the favicon Chromium asks for by itself (the site has none)."""


def watch(page) -> list[str]:
    """Collect console errors and uncaught exceptions; violations are read from the page."""
    problems: list[str] = []
    page.add_init_script(WATCH_VIOLATIONS)
    page.on(
        "console",
        lambda message: (
            problems.append(f"console: {page.url}: {message.text} ({message.location['url']})")
            if message.type == "error"
            else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(f"exception: {error}"))
    return problems


def visit(page, url: str, ready: str) -> list[str]:
    """Open ``url``, wait until ``ready`` (a selector its script fills in) shows, return the violations."""
    policy = page.goto(url).headers.get("content-security-policy", "")
    directives = {
        name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())
    }
    assert directives.get("script-src") == ["'self'"], url
    page.wait_for_selector(ready, state="attached", timeout=30_000)
    page.wait_for_timeout(500)  # the page's first polls and lazy images
    return [f"{url}: {violation}" for violation in page.evaluate("window.__violations")]


def test_every_page_runs_under_the_policy_without_a_violation(live_server, browser_page) -> None:
    project = make_labeling_project(pool=8, initial_set_size=4, budget_votes=20)
    entry = project.cycles.get(number=0).entries.order_by("position").first()
    cast_vote(project, project.owner, entry.face_id, "label", (1,))
    token = invites.create_invite(project, project.owner).token
    page = browser_page
    problems = watch(page)
    base = f"{live_server.url}/projects/{project.pk}"
    violations = visit(page, f"{live_server.url}/accounts/login/", "#id_username")
    log_in(page, live_server, project.owner.username, "/")
    page.wait_for_url(f"{live_server.url}/")
    violations += visit(page, f"{live_server.url}/", ".meter span[style*='width']")
    width = page.eval_on_selector(".meter span", "bar => bar.style.width")

    pages = [
        (f"{base}/label/", "#face[data-face]"),
        (f"{base}/confirm/", "#face-status"),
        (f"{base}/dashboard/", "#budget-plot svg"),
        (f"{base}/import/", "#import-form"),
        (f"{base}/settings/", "#settings-form input"),
        (f"{base}/team/", "#members tbody tr"),
        (f"{base}/review/", "#reason"),
        (f"{base}/faces/", "#filters"),
        (f"{base}/faces/{entry.face_id}/", "#exclude-form"),
        (f"{live_server.url}/projects/new/", "#project-form input"),
        (f"{live_server.url}/api/docs/", ".opblock"),
        (f"{live_server.url}/api/redoc/", "text=/api/projects/{project_id}/next-faces/"),
    ]
    for url, ready in pages:
        violations += visit(page, url, ready)
    page.context.clear_cookies()  # the invitee has no account
    violations += visit(page, f"{live_server.url}/invite/{token}/", "#join-form #username")

    assert [violation for violation in violations if REDOC_LOGO not in violation] == []
    assert [
        problem for problem in problems if REDOC_LOGO not in problem and not problem.endswith(FAVICON)
    ] == []
    assert width == "5%"  # 1 of 20 votes, drawn by meters.js rather than an inline style
