"""Short leases the labeling page renews (a heartbeat), and how each queued face was chosen.

``lease_seconds`` becomes the short lease: 90 s by default, at most 600 s. Projects on the old
default (600 s) get the new one; a longer custom lease is cut to the new maximum, before the
database bound is created again. ``QueueEntry.chosen_by`` records how a face came into its
batch; rows queued before it are marked from what chose their cycle (cycle 0: the initial set
and the test sample; later cycles: the strategy).
"""

import django.core.validators
from django.db import migrations, models

OLD_DEFAULT, NEW_DEFAULT, MAXIMUM = 600, 90, 600


def shorten_leases(apps, schema_editor):
    Project = apps.get_model("annotator", "Project")
    Project.objects.filter(lease_seconds=OLD_DEFAULT).update(lease_seconds=NEW_DEFAULT)
    Project.objects.filter(lease_seconds__gt=MAXIMUM).update(lease_seconds=MAXIMUM)


def mark_queued_faces(apps, schema_editor):
    QueueEntry = apps.get_model("annotator", "QueueEntry")
    first = QueueEntry.objects.filter(cycle__number=0)
    first.filter(face__split="test").update(chosen_by="test_sample")
    first.exclude(face__split="test").update(chosen_by="initial")


class Migration(migrations.Migration):
    dependencies = [("annotator", "0020_job_heartbeat")]

    operations = [
        migrations.RemoveConstraint(model_name="project", name="lease_seconds_in_bounds"),
        migrations.RunPython(shorten_leases, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="project",
            name="lease_seconds",
            field=models.PositiveIntegerField(
                default=90,
                help_text="A face shown to an annotator returns to the queue after this long without a sign "
                "of life from their tab (the labeling page renews its faces while it is open).",
                validators=[
                    django.core.validators.MinValueValidator(30),
                    django.core.validators.MaxValueValidator(600),
                ],
            ),
        ),
        migrations.AddConstraint(
            model_name="project",
            constraint=models.CheckConstraint(
                condition=models.Q(("lease_seconds__gte", 30), ("lease_seconds__lte", 600)),
                name="lease_seconds_in_bounds",
            ),
        ),
        migrations.AddField(
            model_name="queueentry",
            name="chosen_by",
            field=models.CharField(
                choices=[
                    ("initial", "Initial set"),
                    ("test_sample", "Test sample"),
                    ("strategy", "The project's strategy (the newest model's ranking)"),
                    ("newest_model", "The newest model's scores, least confident first"),
                    ("representative", "Representative on the pre-trained embeddings"),
                    ("random", "At random (seeded)"),
                ],
                default="strategy",
                help_text="How the face came into the batch (the strategy, or a fallback when none had "
                "ranked it).",
                max_length=16,
            ),
        ),
        migrations.RunPython(mark_queued_faces, migrations.RunPython.noop),
    ]
