"""Pages: the project list, the labeling and confirm pages, the dashboard and the import page.

Pages render the frame and the project's configuration; the browser then talks to the REST
API (session auth) for everything that changes, so the pages and the API cannot disagree.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from annotator import lease_release
from annotator.models import Membership
from annotator.selectors.budget import budget_sentence
from annotator.services.memberships import EVERY_ROLE, OWNERS, NotAMember, RoleRequired, require_membership
from annotator.web import page_choices


def page_membership(request: HttpRequest, project_id: int, roles: Collection[str] = EVERY_ROLE) -> Membership:
    """The requester's membership of the project: 404 for a non-member, 403 for a role not in ``roles``."""
    try:
        return require_membership(project_id, request.user, roles)
    except NotAMember as error:
        raise Http404("No such project.") from error
    except RoleRequired as error:
        raise PermissionDenied(error.message) from error


def _page_config(membership: Membership) -> dict[str, object]:
    project = membership.project
    return {
        "projectId": project.pk,
        "projectName": project.name,
        "role": membership.role,
        "votesPerFace": project.votes_per_face,
        "showSuggestionAllowed": project.show_model_suggestion,
        "minFaceMs": project.min_face_ms,
        "lease": asdict(lease_release.lease_timing(project)),
        "offerConfirmations": project.offer_confirmations,
        "confirmUrl": reverse("web:confirm", args=[project.pk]),
        "classes": [
            {"index": c.index, "name": c.name, "key": c.key, "color": c.color} for c in project.classes.all()
        ],
        "reservedKeys": page_choices.reserved_keys(),
        "jobKinds": page_choices.job_kinds(),
    }


def render_project_page(
    request: HttpRequest,
    membership: Membership,
    template: str,
    *,
    config: dict[str, object] | None = None,
    **context: object,
) -> HttpResponse:
    """A project's page: the project, the configuration every project page shares plus ``config``
    (read by the page's script), and the template's own ``context``."""
    page_config = {**_page_config(membership), **(config or {})}
    return render(request, template, {"project": membership.project, "config": page_config, **context})


FAVICON = "annotator/favicon.ico"


def favicon(request: HttpRequest) -> FileResponse:
    """``/favicon.ico``, which browsers ask for on every site whatever the page links: served from
    the static files (no sign-in needed) rather than answered with a 404 in every log."""
    path = finders.find(FAVICON)
    if not path:
        raise Http404("no favicon among the static files")
    response = FileResponse(open(path, "rb"), content_type="image/x-icon")  # noqa: SIM115 (FileResponse closes it)
    response["Cache-Control"] = "public, max-age=86400"
    return response


class SignOutView(auth_views.LogoutView):
    """Signing out gives back every face the user holds, so no tab of theirs keeps them from the team."""

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if request.user.is_authenticated:
            lease_release.release_user(request.user)
        return super().post(request, *args, **kwargs)


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    memberships = (
        Membership.objects.filter(user=request.user)
        .select_related("project")
        .order_by("-project__created_at")
    )
    rows = [(membership, budget_sentence(membership.project)) for membership in memberships]
    return render(request, "annotator/project_list.html", {"rows": rows})


@login_required
def label(request: HttpRequest, project_id: int) -> HttpResponse:
    membership = page_membership(request, project_id)
    return render_project_page(request, membership, "annotator/label.html", keys=page_choices.action_keys())


@login_required
def confirm(request: HttpRequest, project_id: int) -> HttpResponse:
    """The model's confident pseudo-labels, one face at a time: Y confirms, N rejects."""
    membership = page_membership(request, project_id)
    return render_project_page(request, membership, "annotator/confirm.html", keys=page_choices.action_keys())


@login_required
def dashboard(request: HttpRequest, project_id: int) -> HttpResponse:
    return render_project_page(
        request,
        page_membership(request, project_id),
        "annotator/dashboard.html",
        label_formats=page_choices.label_formats(),
        model_formats=page_choices.model_formats(),
        export_face_choices=page_choices.export_face_choices(),
    )


@login_required
def import_faces(request: HttpRequest, project_id: int) -> HttpResponse:
    membership = page_membership(request, project_id, OWNERS)
    return render_project_page(
        request, membership, "annotator/import.html", split_modes=page_choices.split_modes()
    )
