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


urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="token"),
    path("projects/", projects.ProjectListView.as_view(), name="projects"),
    path(project, projects.ProjectDetailView.as_view(), name="project"),
    path(project + "start/", projects.StartLabelingView.as_view(), name="start"),
    path(project + "retrain/", projects.RetrainView.as_view(), name="retrain"),
    path(project + "next-faces/", labeling.NextFacesView.as_view(), name="next-faces"),
    path(project + "votes/", labeling.VoteListView.as_view(), name="votes"),
    path(project + "votes/undo/", labeling.UndoView.as_view(), name="undo"),
    path(project + "progress/", labeling.ProgressView.as_view(), name="progress"),
    path(project + "leases/", leases.LeaseHolderListView.as_view(), name="leases"),
    path(project + "leases/renew/", leases.LeaseRenewView.as_view(), name="leases-renew"),
    path(project + "leases/release/", leases.LeaseReleaseView.as_view(), name="leases-release"),
    path(project + "leases/revoke/", leases.LeaseRevokeView.as_view(), name="leases-revoke"),
    path(project + "offers/next/", confirmations.NextOffersView.as_view(), name="next-offers"),
    path(
        project + "offers/<int:offer_id>/answer/",
        confirmations.AnswerOfferView.as_view(),
        name="answer-offer",
    ),
    path(project + "offers/undo/", confirmations.UndoAnswerView.as_view(), name="undo-answer"),
    path(project + "members/", resources.MemberListView.as_view(), name="members"),
    path(project + "members/<int:membership_id>/", resources.MemberDetailView.as_view(), name="member"),
    path(project + "images/", resources.FaceImageListView.as_view(), name="images"),
    path(project + "images/<int:face_id>/", resources.FaceImageDetailView.as_view(), name="image"),
    path(project + "imports/", resources.ImportView.as_view(), name="imports"),
    path(project + "imports/job/", resources.ImportJobView.as_view(), name="import-job"),
    path(project + "cycles/", resources.CycleListView.as_view(), name="cycles"),
    path(project + "model-versions/", resources.ModelVersionListView.as_view(), name="model-versions"),
    path(project + "jobs/", resources.ProjectJobListView.as_view(), name="project-jobs"),
    path(project + "dashboard/", resources.DashboardView.as_view(), name="dashboard"),
    path(project + "comparisons/", comparisons.ComparisonListView.as_view(), name="comparisons"),
    path(project + "comparisons/adopt/", comparisons.AdoptStrategyView.as_view(), name="adopt-strategy"),
    path(project + "exports/", exports.ExportListView.as_view(), name="exports"),
    path("class-presets/", setup.ClassPresetsView.as_view(), name="class-presets"),
    path("budget-plan/", budget_plan.BudgetPlanView.as_view(), name="budget-plan"),
    path(project + "budget-plan/", budget_plan.ProjectBudgetPlanView.as_view(), name="project-budget-plan"),
    path(project + "classes/", setup.ProjectClassesView.as_view(), name="classes"),
    path(project + "locks/", setup.LocksView.as_view(), name="locks"),
    path(project + "backbone-weights/", setup.BackboneWeightsView.as_view(), name="backbone-weights"),
    path(project + "team/", team.TeamFiguresView.as_view(), name="team"),
    path(project + "invites/", team.InviteListView.as_view(), name="invites"),
    path(project + "invites/<int:invite_id>/", team.InviteDetailView.as_view(), name="invite"),
    path("invitations/<str:token>/", team.InvitationView.as_view(), name="invitation"),
    path(project + "review/next/", reviews.ReviewQueueView.as_view(), name="review-next"),
    path(project + "reviews/", reviews.ReviewListView.as_view(), name="reviews"),
    path(project + "reviews/undo/", reviews.ReviewUndoView.as_view(), name="review-undo"),
    path(project + "faces/", faces.FaceListView.as_view(), name="faces"),
    path(project + "faces/<int:face_id>/", faces.FaceDetailView.as_view(), name="face"),
    path(project + "faces/<int:face_id>/similar/", faces.SimilarFacesView.as_view(), name="similar-faces"),
    path(project + "faces/<int:face_id>/exclusion/", faces.ExclusionView.as_view(), name="exclusion"),
    path("jobs/<int:job_id>/", resources.JobDetailView.as_view(), name="job"),
    path("jobs/<int:job_id>/download/", exports.ExportDownloadView.as_view(), name="job-download"),
    path("jobs/<int:job_id>/cancel/", resources.JobCancelView.as_view(), name="job-cancel"),
]
