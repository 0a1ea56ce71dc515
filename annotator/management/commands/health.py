"""``manage.py health``: the full health report for an operator on the server, as JSON.

``/healthz`` shows its details to staff users only; this prints them to whoever runs it (and
who may run it can read the settings anyway). Exits 1 when a part is unhealthy, like the
endpoint's 503.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from annotator.health_checks import report


class Command(BaseCommand):
    help = "Check the database, Redis and a worker for each queue; print the report as JSON."

    def handle(self, *args: object, **options: object) -> None:
        healthy, details = report()
        self.stdout.write(json.dumps(details, indent=2))
        if not healthy:
            raise CommandError(
                "unhealthy: "
                + ", ".join(
                    name for name, check in details.items() if isinstance(check, dict) and not check["ok"]
                )
            )
