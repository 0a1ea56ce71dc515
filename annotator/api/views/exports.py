"""Exports: owners ask for a label set or a model, a worker writes it, owners download it."""

from __future__ import annotations

from pathlib import PurePosixPath

from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, OpenApiTypes, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator import file_store
from annotator.api.job_serializers import JobSerializer
from annotator.api.openapi import errors
from annotator.api.permissions import owner_or_403
from annotator.api.views.base import CREATED, ProjectScopedView, ServiceErrorsMixin, validated
from annotator.models import Job, JobKind
from annotator.services import exports

DOWNLOAD_CONTENT_TYPES = {".csv": "text/csv", ".jsonl": "application/jsonl", ".zip": "application/zip"}
"""What an export file is sent as, by suffix; model files (.pt, .onnx) are plain binary.

Set here, not guessed: ``mimetypes`` reads the host's tables, where ``.pt`` can come out
as a Nintendo page table and ``.jsonl`` as nothing.
"""
MODEL_CONTENT_TYPE = "application/octet-stream"


class ExportRequestSerializer(serializers.Serializer):
    what = serializers.ChoiceField(choices=list(exports.EXPORT_KINDS))
    format = serializers.ChoiceField(
        choices=[*exports.LABEL_FORMATS, *exports.MODEL_FORMATS, *exports.DISTILLED_FORMATS]
    )
    version = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    faces = serializers.ChoiceField(
        choices=list(exports.FACE_CHOICES),
        default="all",
        help_text="Label sets: every face not excluded (all), or only those with a label or a vote (labeled).",
    )


class ExportListView(ProjectScopedView):
    """Export jobs of a project (GET), or ask for a new export (POST); owners only.

    Label formats, every split with reviews applied: csv and jsonl (a ``split`` column),
    imagefolder (zip of class folders, labeled faces only), ferplus (zip of FER2013Train and
    FER2013Test folders with their label.csv), labelstudio (zip of Label Studio tasks with each
    annotator's answer and the model's guess, and the images), hf_imagefolder (zip that
    ``datasets.load_dataset("imagefolder")`` reads). Model formats: pytorch, torchscript, onnx,
    each verified by running it, zipped with its model card. Distilled set:
    zip of a few synthetic images per class, the learned step sizes and a card of their test accuracy.
    """

    @extend_schema(responses={200: JobSerializer(many=True), **errors(403, 404)})
    def get(self, request: Request, project_id: int) -> Response:
        project = self.project(owner=True)
        export_jobs = Job.objects.filter(project=project, kind=JobKind.EXPORT).order_by("-id")[:50]
        return Response(JobSerializer(export_jobs, many=True).data)

    @extend_schema(request=ExportRequestSerializer, responses={201: JobSerializer, **errors(400, 403, 404)})
    def post(self, request: Request, project_id: int) -> Response:
        project = self.project(owner=True)
        body = validated(ExportRequestSerializer, request.data)
        job = exports.request_export(project, **body)
        return Response(JobSerializer(job).data, status=CREATED)


class ExportDownloadView(ServiceErrorsMixin, APIView):
    """The file of a finished export job (owners only)."""

    @extend_schema(
        responses={
            **{
                (200, content_type): OpenApiResponse(OpenApiTypes.BINARY, description="The export file.")
                for content_type in [*DOWNLOAD_CONTENT_TYPES.values(), MODEL_CONTENT_TYPE]
            },
            **errors(
                forbidden="Not an owner of the job's project, or the job has no finished export.",
                not_found="No such export job among your projects.",
            ),
        }
    )
    def get(self, request: Request, job_id: int) -> FileResponse:
        job = get_object_or_404(Job, pk=job_id, kind=JobKind.EXPORT)
        owner_or_403(request, job.project_id)
        name = PurePosixPath(exports.export_file(job))
        content_type = DOWNLOAD_CONTENT_TYPES.get(name.suffix, MODEL_CONTENT_TYPE)
        stored = file_store.open_object(str(name))
        response = FileResponse(
            stored.body, as_attachment=True, filename=name.name, content_type=content_type
        )
        response["Content-Length"] = str(stored.size)
        return response
