"""Page routes: sign-in, the project list, and each project's labeling, confirm, dashboard, import pages."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from annotator.web import owner_pages, views

app_name = "web"

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", views.SignOutView.as_view(), name="logout"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("", views.project_list, name="projects"),
    path("projects/<int:project_id>/label/", views.label, name="label"),
    path("projects/<int:project_id>/confirm/", views.confirm, name="confirm"),
    path("projects/<int:project_id>/dashboard/", views.dashboard, name="dashboard"),
    path("projects/<int:project_id>/import/", views.import_faces, name="import"),
    path("projects/new/", owner_pages.new_project, name="new-project"),
    path("projects/<int:project_id>/settings/", owner_pages.project_settings, name="settings"),
    path("projects/<int:project_id>/team/", owner_pages.team, name="team"),
    path("projects/<int:project_id>/review/", owner_pages.review, name="review"),
    path("projects/<int:project_id>/faces/", owner_pages.faces, name="faces"),
    path("projects/<int:project_id>/faces/<int:face_id>/", owner_pages.face, name="face"),
    path("invite/<str:token>/", owner_pages.invite, name="invite"),
]
