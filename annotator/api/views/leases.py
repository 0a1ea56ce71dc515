"""Leases: a labeling tab's heartbeat and release, and the owners' view of who holds what."""

from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from annotator import lease_release
from annotator.api.lease_serializers import (
    LeaseHolderSerializer,
    ReleasedSerializer,
    RevokeInputSerializer,
    TabInputSerializer,
    TabLeasesSerializer,
)
from annotator.api.openapi import errors
from annotator.api.views.base import ProjectScopedView, validated
from annotator.selectors.leases import lease_holders


def _tab(request: Request) -> str:
    return validated(TabInputSerializer, request.data)["tab"]


class LeaseRenewView(ProjectScopedView):
    """The tab is in use: renew its faces' leases. The answer lists the faces it still holds."""

    @extend_schema(request=TabInputSerializer, responses={200: TabLeasesSerializer, **errors(400, 403, 404)})
    def post(self, request: Request, project_id: int) -> Response:
        project = self.project()
        faces = lease_release.renew_tab(project, request.user, _tab(request))
        return Response({"faces": faces, **asdict(lease_release.lease_timing(project))})


class LeaseReleaseView(ProjectScopedView):
    """The tab was hidden for a while or closed: its faces go back to the queue now.

    Pages send it with ``navigator.sendBeacon`` as a form whose ``csrfmiddlewaretoken`` field
    carries the CSRF token (a beacon cannot set the header); the usual CSRF check applies.
    """

    @extend_schema(request=TabInputSerializer, responses={200: ReleasedSerializer, **errors(400, 403, 404)})
    def post(self, request: Request, project_id: int) -> Response:
        project = self.project()
        return Response({"released": lease_release.release_tab(project, request.user, _tab(request))})


class LeaseHolderListView(ProjectScopedView):
    """Owners: who holds faces now, per holder and tab, and until when."""

    @extend_schema(responses={200: LeaseHolderSerializer(many=True), **errors(403, 404)})
    def get(self, request: Request, project_id: int) -> Response:
        project = self.project(owner=True)
        return Response(LeaseHolderSerializer(lease_holders(project), many=True).data)


class LeaseRevokeView(ProjectScopedView):
    """Owners: give back to the queue what one holder keeps (one tab of theirs, or all)."""

    @extend_schema(
        request=RevokeInputSerializer, responses={200: ReleasedSerializer, **errors(400, 403, 404)}
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = self.project(owner=True)
        data = validated(RevokeInputSerializer, request.data)
        released = lease_release.release_holder(project, data["annotator"], data.get("tab"))
        return Response({"released": released})
