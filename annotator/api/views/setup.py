"""Setting a project up: class presets, a project's classes (changeable until votes exist), what is locked."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.api.class_rules import validated_classes
from annotator.api.openapi import errors
from annotator.api.parsers import CleaningMultiPartParser
from annotator.api.project_serializers import ProjectClassSerializer
from annotator.api.views.base import ProjectScopedView, validated
from annotator.services import backbone_weights, project_classes, projects


class ClassPresetSerializer(serializers.Serializer):
    name = serializers.CharField()
    title = serializers.CharField()
    classes = ProjectClassSerializer(many=True)


class LocksSerializer(serializers.Serializer):
    classes = serializers.CharField(
        allow_null=True, help_text="Why the classes are fixed; null while they may change."
    )
    settings = serializers.DictField(
        child=serializers.CharField(), help_text="Setting name to why it is fixed."
    )


class ClassListInputSerializer(serializers.Serializer):
    classes = ProjectClassSerializer(many=True)

    def validate_classes(self, classes: list[dict]) -> list[dict]:
        return validated_classes(classes)


class ClassPresetsView(APIView):
    """The class lists of FERPlus, FER2013, RAF-DB (basic) and AffectNet, with keys and colours."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: ClassPresetSerializer(many=True), **errors(403)})
    def get(self, request: Request) -> Response:
        rows = [
            {
                "name": name,
                "title": project_classes.PRESET_TITLES[name],
                "classes": [
                    {"index": i, **vars(spec)} for i, spec in enumerate(project_classes.default_specs(name))
                ],
            }
            for name in project_classes.PRESETS
        ]
        return Response(ClassPresetSerializer(rows, many=True).data)


class ProjectClassesView(ProjectScopedView):
    """Replace a project's classes (owners) while no vote or model depends on them."""

    @extend_schema(
        request=ClassListInputSerializer,
        responses={
            200: ProjectClassSerializer(many=True),
            **errors(400, 403, 404, conflict="Votes or models exist."),
        },
    )
    def put(self, request: Request, project_id: int) -> Response:
        project = self.project(owner=True)
        body = validated(ClassListInputSerializer, request.data)
        specs = [projects.ClassSpec(**c) for c in body["classes"]]
        return Response(
            ProjectClassSerializer(project_classes.replace_classes(project, specs), many=True).data
        )


class LocksView(ProjectScopedView):
    """What may no longer change in the project, and why (owners: the settings page shows it)."""

    @extend_schema(responses={200: LocksSerializer, **errors(403, 404)})
    def get(self, request: Request, project_id: int) -> Response:
        project = self.project(owner=True)
        data = {
            "classes": project_classes.classes_locked_reason(project),
            "settings": projects.locked_settings(project),
        }
        return Response(LocksSerializer(data).data)


class BackboneWeightsInputSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="A torchvision or timm ResNet-18 state dict (.pt/.pth): ImageNet or face-recognition weights."
    )


class BackboneWeightsReportSerializer(serializers.Serializer):
    file = serializers.CharField(help_text="The name of the file given.")
    given_at = serializers.DateTimeField()
    loaded = serializers.IntegerField(help_text="Backbone tensors loaded, each checked by name and shape.")
    adapted = serializers.ListField(child=serializers.CharField(), help_text="Keys changed to fit, and how.")
    left_out = serializers.ListField(child=serializers.CharField(), help_text="Keys not used (the head).")


class BackboneWeightsView(ProjectScopedView):
    """The project's own starting backbone (owners, before labeling starts).

    Read with ``weights_only`` (a pickled program is refused, never run); the RGB stem is summed
    to one channel and the head left out. Pre-training continues from it; without pre-training
    the first training starts from it.
    """

    parser_classes = [CleaningMultiPartParser]

    @extend_schema(
        request={"multipart/form-data": BackboneWeightsInputSerializer},
        responses={
            200: BackboneWeightsReportSerializer,
            **errors(400, 403, 404, conflict="Labeling has started."),
        },
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = self.project(owner=True)
        body = validated(BackboneWeightsInputSerializer, request.data)
        report = backbone_weights.set_backbone_weights(project, body["file"])
        return Response(BackboneWeightsReportSerializer(report).data)

    @extend_schema(responses={204: None, **errors(403, 404, conflict="Labeling has started.")})
    def delete(self, request: Request, project_id: int) -> Response:
        backbone_weights.clear_backbone_weights(self.project(owner=True))
        return Response(status=204)
