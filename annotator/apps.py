from __future__ import annotations

from django.apps import AppConfig


class AnnotatorConfig(AppConfig):
    name = "annotator"
    verbose_name = "FaceLoop annotator"
