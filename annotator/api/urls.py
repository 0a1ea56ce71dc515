"""REST API routes (mounted under /api/ by the root URLconf)."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.parsers import FormParser, MultiPartParser

from annotator.api import throttles
from annotator.api.openapi import ErrorSerializer, errors
from annotator.api.parsers import BoundedJSONParser
from annotator.api.throttles import WriteThrottle
from annotator.api.views import (
    budget_plan,
    comparisons,
    confirmations,
    exports,
    faces,
    labeling,
    leases,
    projects,
    resources,
    reviews,
    setup,
    team,
)

app_name = "api"

project = "projects/<int:project_id>/"


@extend_schema_view(
    post=extend_schema(
        responses={
            200: inline_serializer("Token", {"token": serializers.CharField()}),
            **errors(invalid="A wrong or missing username or password."),
            429: OpenApiResponse(ErrorSerializer, description="Too many sign-ins: locked out or throttled."),
        }
    )
)
class TokenView(ObtainAuthToken):
    """DRF's token view, with the same body bounds as every view's, a rate limit, and sign-in lockout.

    DRF names its own parsers, so the bounded JSON one is named again. The serializer
    authenticates with Django's own request (not DRF's wrapper): django-axes marks that request
    when an account or address is locked out, and its middleware then answers 429.
    """

    parser_classes = (FormParser, MultiPartParser, BoundedJSONParser)
    throttle_classes = (WriteThrottle,)
    throttle_scope = throttles.TOKEN

    def get_serializer_context(self) -> dict[str, object]:
        return {**super().get_serializer_context(), "request": self.request._request}


PROJECT_ROUTES = [
    ("start/", projects.StartLabelingView, "start"),
    ("retrain/", projects.RetrainView, "retrain"),
    ("next-faces/", labeling.NextFacesView, "next-faces"),
    ("votes/", labeling.VoteListView, "votes"),
    ("votes/undo/", labeling.UndoView, "undo"),
    ("progress/", labeling.ProgressView, "progress"),
    ("leases/", leases.LeaseHolderListView, "leases"),
    ("leases/renew/", leases.LeaseRenewView, "leases-renew"),
    ("leases/release/", leases.LeaseReleaseView, "leases-release"),
    ("leases/revoke/", leases.LeaseRevokeView, "leases-revoke"),
    ("offers/next/", confirmations.NextOffersView, "next-offers"),
    ("offers/<int:offer_id>/answer/", confirmations.AnswerOfferView, "answer-offer"),
    ("offers/undo/", confirmations.UndoAnswerView, "undo-answer"),
    ("members/", resources.MemberListView, "members"),
    ("members/<int:membership_id>/", resources.MemberDetailView, "member"),
    ("imports/", resources.ImportView, "imports"),
    ("imports/job/", resources.ImportJobView, "import-job"),
    ("cycles/", resources.CycleListView, "cycles"),
    ("model-versions/", resources.ModelVersionListView, "model-versions"),
    ("jobs/", resources.ProjectJobListView, "project-jobs"),
    ("dashboard/", resources.DashboardView, "dashboard"),
    ("comparisons/", comparisons.ComparisonListView, "comparisons"),
    ("comparisons/plan/", comparisons.ComparisonPlanView, "comparison-plan"),
    ("comparisons/adopt/", comparisons.AdoptStrategyView, "adopt-strategy"),
    ("exports/", exports.ExportListView, "exports"),
    ("budget-plan/", budget_plan.ProjectBudgetPlanView, "project-budget-plan"),
    ("classes/", setup.ProjectClassesView, "classes"),
    ("locks/", setup.LocksView, "locks"),
    ("backbone-weights/", setup.BackboneWeightsView, "backbone-weights"),
    ("team/", team.TeamFiguresView, "team"),
    ("invites/", team.InviteListView, "invites"),
    ("invites/<int:invite_id>/", team.InviteDetailView, "invite"),
    ("review/next/", reviews.ReviewQueueView, "review-next"),
    ("reviews/", reviews.ReviewListView, "reviews"),
    ("reviews/undo/", reviews.ReviewUndoView, "review-undo"),
    ("faces/", faces.FaceListView, "faces"),
    ("faces/<int:face_id>/", faces.FaceDetailView, "face"),
    ("faces/<int:face_id>/similar/", faces.SimilarFacesView, "similar-faces"),
    ("faces/<int:face_id>/exclusion/", faces.ExclusionView, "exclusion"),
]
"""Routes under ``projects/<project_id>/``: the tail, the view, the name."""

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="token"),
    path("projects/", projects.ProjectListView.as_view(), name="projects"),
    path(project, projects.ProjectDetailView.as_view(), name="project"),
    *(path(project + tail, view.as_view(), name=name) for tail, view, name in PROJECT_ROUTES),
    path("class-presets/", setup.ClassPresetsView.as_view(), name="class-presets"),
    path("budget-plan/", budget_plan.BudgetPlanView.as_view(), name="budget-plan"),
    path("invitations/<str:token>/", team.InvitationView.as_view(), name="invitation"),
    path("jobs/<int:job_id>/", resources.JobDetailView.as_view(), name="job"),
    path("jobs/<int:job_id>/download/", exports.ExportDownloadView.as_view(), name="job-download"),
    path("jobs/<int:job_id>/cancel/", resources.JobCancelView.as_view(), name="job-cancel"),
]
