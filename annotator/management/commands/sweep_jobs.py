"""``manage.py sweep_jobs``: one sweep of the job watchdog, by hand.

Every worker sweeps every ``JOB_SWEEP_SECONDS`` already; an operator runs this to see at once
what it does (after a host died, or Redis came back), or from cron where no worker runs.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from annotator.services import job_watchdog


class Command(BaseCommand):
    help = (
        "Re-queue or fail the jobs whose worker stopped heartbeating, and send the queued jobs "
        "whose message never reached the broker."
    )

    def handle(self, *args: object, **options: object) -> None:
        report = job_watchdog.sweep()
        self.stdout.write(f"job sweep: {report}")
