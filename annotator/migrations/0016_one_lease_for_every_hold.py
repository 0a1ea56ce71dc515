"""One way to hold a face for one annotator: a lease holds a queue entry, an offer or a face to review.

Pseudo-label offers' ``held_by``/``held_until`` columns and the ``ReviewHold`` table become
lease rows (live holds are copied, lapsed ones dropped); ``CycleState.PRETRAINING``, never
written, leaves the cycle's choices.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone


def check_foreign_keys_now(schema_editor):
    """Run PostgreSQL's deferred foreign-key checks of the rows just written.

    The operations after the copy alter the lease table in the same transaction, and
    PostgreSQL refuses to alter a table with pending trigger events (the deferred checks).
    """
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        schema_editor.execute("SET CONSTRAINTS ALL DEFERRED")


def holds_to_leases(apps, schema_editor):
    Lease = apps.get_model("annotator", "Lease")
    PseudoLabelOffer = apps.get_model("annotator", "PseudoLabelOffer")
    ReviewHold = apps.get_model("annotator", "ReviewHold")
    now = timezone.now()
    held_offers = PseudoLabelOffer.objects.filter(
        state="offered", held_by__isnull=False, held_until__gt=now
    ).values_list("pk", "project_id", "held_by_id", "held_until")
    Lease.objects.bulk_create(
        Lease(offer_id=pk, project_id=project_id, annotator_id=user_id, expires_at=until)
        for pk, project_id, user_id, until in held_offers.iterator()
    )
    review_holds = ReviewHold.objects.filter(held_until__gt=now).values_list(
        "item_id", "item__project_id", "reviewer_id", "held_until"
    )
    Lease.objects.bulk_create(
        Lease(review_item_id=item_id, project_id=project_id, annotator_id=user_id, expires_at=until)
        for item_id, project_id, user_id, until in review_holds.iterator()
    )
    check_foreign_keys_now(schema_editor)


def leases_to_holds(apps, schema_editor):
    Lease = apps.get_model("annotator", "Lease")
    PseudoLabelOffer = apps.get_model("annotator", "PseudoLabelOffer")
    ReviewHold = apps.get_model("annotator", "ReviewHold")
    for offer_id, user_id, until in Lease.objects.filter(offer__isnull=False).values_list(
        "offer_id", "annotator_id", "expires_at"
    ):
        PseudoLabelOffer.objects.filter(pk=offer_id).update(held_by_id=user_id, held_until=until)
    ReviewHold.objects.bulk_create(
        ReviewHold(item_id=item_id, reviewer_id=user_id, held_until=until)
        for item_id, user_id, until in Lease.objects.filter(review_item__isnull=False).values_list(
            "review_item_id", "annotator_id", "expires_at"
        )
    )
    Lease.objects.filter(entry__isnull=True).delete()
    check_foreign_keys_now(schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("annotator", "0015_item_browse_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="lease",
            name="entry",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="leases",
                to="annotator.queueentry",
            ),
        ),
        migrations.AddField(
            model_name="lease",
            name="offer",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="leases",
                to="annotator.pseudolabeloffer",
            ),
        ),
        migrations.AddField(
            model_name="lease",
            name="review_item",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="review_leases",
                to="annotator.item",
            ),
        ),
        migrations.RunPython(holds_to_leases, leases_to_holds),
        migrations.AddConstraint(
            model_name="lease",
            constraint=models.UniqueConstraint(fields=("offer",), name="one_lease_per_offer"),
        ),
        migrations.AddConstraint(
            model_name="lease",
            constraint=models.UniqueConstraint(fields=("review_item",), name="one_review_lease_per_face"),
        ),
        migrations.AddConstraint(
            model_name="lease",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("entry__isnull", False), ("offer__isnull", True), ("review_item__isnull", True)
                    ),
                    models.Q(
                        ("entry__isnull", True), ("offer__isnull", False), ("review_item__isnull", True)
                    ),
                    models.Q(
                        ("entry__isnull", True), ("offer__isnull", True), ("review_item__isnull", False)
                    ),
                    _connector="OR",
                ),
                name="lease_holds_one_thing",
            ),
        ),
        migrations.RemoveField(model_name="pseudolabeloffer", name="held_by"),
        migrations.RemoveField(model_name="pseudolabeloffer", name="held_until"),
        migrations.DeleteModel(name="ReviewHold"),
        migrations.AlterField(
            model_name="cycle",
            name="state",
            field=models.CharField(
                choices=[
                    ("labeling", "Labeling"),
                    ("training", "Training"),
                    ("scoring", "Scoring the pool"),
                    ("selecting", "Selecting the next batch"),
                    ("final_training", "Final training"),
                    ("done", "Done"),
                ],
                default="labeling",
                max_length=16,
            ),
        ),
    ]
