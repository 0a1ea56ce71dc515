"""``manage.py export_project``: write a project's label set or model to a folder, without a worker."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotator.models import Project
from annotator.services import exports
from annotator.services.errors import ServiceError


class Command(BaseCommand):
    help = (
        "Export a project's labels (csv, jsonl, imagefolder, ferplus, labelstudio, hf_imagefolder; every split) "
        "or model (pytorch, torchscript, onnx; zipped with its model card)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("project_id", type=int)
        parser.add_argument("what", choices=list(exports.EXPORT_KINDS))
        parser.add_argument(
            "--format",
            required=True,
            choices=[*exports.LABEL_FORMATS, *exports.MODEL_FORMATS, *exports.DISTILLED_FORMATS],
        )
        parser.add_argument(  # not --version: Django's own option, so the command did not even start
            "--model-version",
            dest="version",
            type=int,
            default=None,
            help="model version (default: the latest)",
        )
        parser.add_argument("--out", type=Path, required=True, help="folder to write into")
        parser.add_argument(
            "--faces",
            choices=list(exports.FACE_CHOICES),
            default="all",
            help="label sets: every face, or only those with a label or a vote (default: all)",
        )

    def handle(
        self,
        *args: object,
        project_id: int,
        what: str,
        format: str,
        version: int | None,
        out: Path,
        **options: object,
    ) -> None:
        project = Project.objects.filter(pk=project_id).first()
        if project is None:
            raise CommandError(f"no project {project_id}")
        try:
            path, details = exports.write_export(
                project, what, format, version, out, faces=str(options["faces"])
            )
        except ServiceError as error:
            raise CommandError(error.message) from error
        self.stdout.write(self.style.SUCCESS(f"wrote {path}"))
        if "rows" in details:
            self.stdout.write(f"{details['rows']} faces; left out: {details['skipped'] or 'none'}")
