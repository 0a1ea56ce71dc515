"""The model of a face is called ``Face``, as it is everywhere else; its foreign keys are ``face``.

Renames only: the table, columns and indexes keep their rows. The constraints that name a
renamed field are dropped before the rename and created again after it, with the same names
and meaning.
"""

import django.db.models.deletion
from django.db import migrations, models

CONSTRAINTS = [
    (
        "exclusion",
        models.UniqueConstraint(
            condition=models.Q(undone_at__isnull=True), fields=("face",), name="one_live_exclusion_per_face"
        ),
    ),
    ("lease", models.UniqueConstraint(fields=("review_face",), name="one_review_lease_per_face")),
    (
        "lease",
        models.CheckConstraint(
            condition=models.Q(entry__isnull=False, offer__isnull=True, review_face__isnull=True)
            | models.Q(entry__isnull=True, offer__isnull=False, review_face__isnull=True)
            | models.Q(entry__isnull=True, offer__isnull=True, review_face__isnull=False),
            name="lease_holds_one_thing",
        ),
    ),
    (
        "pseudolabeloffer",
        models.UniqueConstraint(
            condition=models.Q(state="offered"), fields=("face",), name="one_open_offer_per_face"
        ),
    ),
    ("queueentry", models.UniqueConstraint(fields=("cycle", "face"), name="face_once_per_cycle")),
    (
        "vote",
        models.UniqueConstraint(
            condition=models.Q(retracted_at__isnull=True),
            fields=("annotator", "face"),
            name="one_live_vote_per_face",
        ),
    ),
]

RENAMED_FIELDS = [
    ("vote", "item", "face"),
    ("queueentry", "item", "face"),
    ("lease", "review_item", "review_face"),
    ("pseudolabeloffer", "item", "face"),
    ("review", "item", "face"),
    ("exclusion", "item", "face"),
]

RENAMED_INDEXES = [
    "project_split",
    "project_label",
    "project_predicted",
    "project_share",
    "project_confidence",
]


class Migration(migrations.Migration):
    dependencies = [
        ("annotator", "0018_cycle_initial_set_pending"),
    ]

    operations = [
        *[
            migrations.RemoveConstraint(model_name=model, name=constraint.name)
            for model, constraint in CONSTRAINTS
        ],
        migrations.RenameModel(old_name="Item", new_name="Face"),
        *[
            migrations.RenameField(model_name=model, old_name=old, new_name=new)
            for model, old, new in RENAMED_FIELDS
        ],
        migrations.AlterField(
            model_name="face",
            name="project",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="faces", to="annotator.project"
            ),
        ),
        *[
            migrations.RenameIndex(model_name="face", old_name=f"item_{index}", new_name=f"face_{index}")
            for index in RENAMED_INDEXES
        ],
        *[
            migrations.AddConstraint(model_name=model, constraint=constraint)
            for model, constraint in CONSTRAINTS
        ],
    ]
