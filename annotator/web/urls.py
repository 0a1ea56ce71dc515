"""Page routes: sign-in, the project list, each project's pages, and invite links."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from annotator.web import owner_pages, views

app_name = "web"

PROJECT_PAGES = {
    "label": views.label,
    "confirm": views.confirm,
    "dashboard": views.dashboard,
    "import": views.import_faces,
    "settings": owner_pages.project_settings,
    "team": owner_pages.team,
    "review": owner_pages.review,
    "faces": owner_pages.faces,
}
"""A project's pages, each at ``projects/<id>/<name>/`` and named ``web:<name>``."""

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", views.SignOutView.as_view(), name="logout"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("", views.project_list, name="projects"),
    path("projects/new/", owner_pages.new_project, name="new-project"),
    *(path(f"projects/<int:project_id>/{name}/", page, name=name) for name, page in PROJECT_PAGES.items()),
    path("projects/<int:project_id>/faces/<int:face_id>/", owner_pages.face, name="face"),
    path("invite/<str:token>/", owner_pages.invite, name="invite"),
]
