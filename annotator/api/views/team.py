"""The team: invite links (owners create and revoke; the invitee joins), per-annotator figures."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import login
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import SAFE_METHODS, AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.api.openapi import ErrorSerializer, errors, list_errors
from annotator.api.team_serializers import (
    AcceptInviteSerializer,
    CreatedInviteSerializer,
    InvitationSerializer,
    InviteInputSerializer,
    InviteSerializer,
    JoinedSerializer,
    TeamMemberFiguresSerializer,
)
from annotator.api.views.base import CREATED, ProjectScopedView, ServiceErrorsMixin, validated
from annotator.models import Invite
from annotator.services import invites
from annotator.team_figures import team_figures


class CsrfEnforcingSession(SessionAuthentication):
    """DRF's CSRF check, asked for by a view that also takes requests without a session."""


GONE = {410: OpenApiResponse(ErrorSerializer, description="The link is unknown, expired, revoked or used.")}


class InviteListView(ProjectScopedView, generics.GenericAPIView):
    """A project's invite links (owners); creating one returns its token once."""

    serializer_class = InviteSerializer

    @extend_schema(responses={200: InviteSerializer(many=True), **list_errors()})
    def get(self, request: Request, project_id: int) -> Response:
        queryset = self.project(owner=True).invites.select_related("created_by", "used_by")
        return self.get_paginated_response(InviteSerializer(self.paginate_queryset(queryset), many=True).data)

    @extend_schema(
        request=InviteInputSerializer, responses={201: CreatedInviteSerializer, **errors(400, 403, 404)}
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = self.project(owner=True)
        data = validated(InviteInputSerializer, request.data)
        created = invites.create_invite(
            project,
            request.user,
            role=data["role"],
            quota_votes=data.get("quota_votes"),
            email=data["email"],
            lifetime=timedelta(days=data["days"]),
        )
        invite = created.invite
        invite.token = created.token
        invite.url = request.build_absolute_uri(reverse("web:invite", args=[created.token]))
        return Response(CreatedInviteSerializer(invite).data, status=CREATED)


class InviteDetailView(ProjectScopedView):
    """Revoke an unused invite link (owners)."""

    @extend_schema(
        request=None, responses={200: InviteSerializer, **errors(403, 404, conflict="Used or revoked.")}
    )
    def delete(self, request: Request, project_id: int, invite_id: int) -> Response:
        invite = get_object_or_404(Invite, pk=invite_id, project=self.project(owner=True))
        return Response(InviteSerializer(invites.revoke_invite(invite)).data)


class InvitationView(ServiceErrorsMixin, APIView):
    """An invite link, seen by its holder (no account needed): what it offers, and joining with it.

    A signed-in user joins as themselves. Anyone else names a username and a password: that
    creates the account, joins the project with the invite's role and signs the new user in.
    Either way the link stops working.

    Joining checks the CSRF token without a session too (DRF checks it only for users its
    session authenticated): otherwise another site could make a visitor's browser join a
    project, or sign it in to an account of the other site's choosing. A client with an API
    token needs none; browsers never send one by themselves.
    """

    permission_classes = [AllowAny]

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        if request.method not in SAFE_METHODS and request.successful_authenticator is None:
            CsrfEnforcingSession().enforce_csrf(request)

    @extend_schema(auth=[], responses={200: InvitationSerializer, **GONE})
    def get(self, request: Request, token: str) -> Response:
        return Response(InvitationSerializer(invites.usable_invite(token)).data)

    @extend_schema(
        auth=[],
        request=AcceptInviteSerializer,
        responses={
            201: JoinedSerializer,
            **errors(
                400,
                403,
                invalid="Username invalid or taken, or password too weak.",
                forbidden="No CSRF token.",
                conflict="Already a member.",
            ),
            **GONE,
        },
    )
    def post(self, request: Request, token: str) -> Response:
        data = validated(AcceptInviteSerializer, request.data)  # a malformed body is refused whoever sends it
        if request.user.is_authenticated:
            membership = invites.join_with_invite(token, request.user)
        else:
            membership = invites.accept_invite(
                token, username=data.get("username", ""), password=data.get("password", "")
            )
            login(request._request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
        membership.next = reverse(f"web:{invites.first_page(membership)}", args=[membership.project_id])
        return Response(JoinedSerializer(membership).data, status=CREATED)


class TeamFiguresView(ProjectScopedView):
    """Per-member figures (owners): votes, skips, unsure share, speed, agreement, reliability, activity."""

    @extend_schema(responses={200: TeamMemberFiguresSerializer(many=True), **errors(403, 404)})
    def get(self, request: Request, project_id: int) -> Response:
        project = self.project(owner=True)
        return Response(TeamMemberFiguresSerializer(team_figures(project), many=True).data)
