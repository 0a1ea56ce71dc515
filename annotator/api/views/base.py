"""What every project-scoped API view shares: the member check and service errors as 4xx."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.api.permissions import member_or_404, owner_or_403, reviewer_or_403
from annotator.models import Membership, Project
from annotator.services.errors import ServiceError


def service_error_response(error: ServiceError) -> Response:
    body: dict[str, object] = {"code": error.code, "detail": error.message}
    if error.fields:
        body["fields"] = error.fields
    return Response(body, status=error.status)


def validated(serializer_class: type[serializers.Serializer], data: object, **options: Any) -> dict[str, Any]:
    """``data`` as ``serializer_class`` validates it; a ValidationError (a 400 naming each field) if it is not."""
    serializer = serializer_class(data=data, **options)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ServiceErrorsMixin:
    """Turn a :class:`ServiceError` raised by a service into its 4xx response."""

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, ServiceError):
            return service_error_response(exc)
        return super().handle_exception(exc)  # type: ignore[misc]


class ProjectScopedView(ServiceErrorsMixin, APIView):
    """A view under ``/api/projects/<project_id>/``; ``member()`` and ``owner()`` check access."""

    def member(self) -> Membership:
        return member_or_404(self.request, self.kwargs["project_id"])

    def owner(self) -> Membership:
        return owner_or_403(self.request, self.kwargs["project_id"])

    def reviewer(self) -> Membership:
        return reviewer_or_403(self.request, self.kwargs["project_id"])

    def project(self, *, owner: bool = False) -> Project:
        return (self.owner() if owner else self.member()).project


CREATED = status.HTTP_201_CREATED
