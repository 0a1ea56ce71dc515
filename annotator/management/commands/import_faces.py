"""``manage.py import_faces PROJECT PATH``: import faces in any format ml_engine reads.

Formats: FER2013 CSV, FERPlus folders, RAF-DB, ImageFolder, plain folders and zips (sniffed
from the layout unless ``--format`` names one). The import is recorded as a job, so the
dashboard shows it; duplicates (same pixels) are skipped.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from annotator import ml_bridge
from annotator.models import Project
from annotator.services import import_jobs, imports
from annotator.services.errors import ServiceError


class Command(BaseCommand):
    help = "Import faces into a project from a file or folder in any supported format."

    def add_arguments(self, parser) -> None:
        parser.add_argument("project", type=int, help="project id")
        parser.add_argument("path", help="file or folder to import")
        parser.add_argument("--format", choices=ml_bridge.import_formats(), default=None)
        parser.add_argument(
            "--split",
            choices=imports.SPLIT_MODES,
            default="auto",
            help="pool, test, or auto: the file's test split goes to test, the rest to the pool",
        )

    def handle(self, *args, project: int, path: str, format: str | None, split: str, **options) -> None:
        target = Project.objects.filter(pk=project).first()
        if target is None:
            raise CommandError(f"no project {project}")
        job = import_jobs.create_import_job(target)
        try:
            summary = imports.import_path(target, path, format=format, split=split, job=job)
        except ServiceError as error:
            raise CommandError(error.message) from error
        for problem in summary.problems[:20]:
            self.stderr.write(f"skipped {problem['source']}: {problem['reason']}")
        if len(summary.problems) > 20:
            self.stderr.write(f"... and {len(summary.problems) - 20} more problems")
        self.stdout.write(
            f"imported {summary.created} faces into project {target.pk}; "
            f"{summary.duplicates} duplicates skipped, {len(summary.problems)} problems"
        )
