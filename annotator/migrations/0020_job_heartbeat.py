"""A job carries its worker's heartbeat and whether its message reached the broker.

Jobs queued before this migration have no ``dispatched_at``: the first sweep sends them once
more, and the delivery that finds the job already taken does nothing. Jobs running before it
have no heartbeat and count as abandoned: stop the workers before migrating.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('annotator', '0019_item_is_face'),
    ]

    operations = [
        migrations.AddField(
            model_name='job',
            name='claim_token',
            field=models.CharField(blank=True, help_text='Changes with every claim.', max_length=32),
        ),
        migrations.AddField(
            model_name='job',
            name='dispatched_at',
            field=models.DateTimeField(blank=True, help_text='When its message last went to the broker; empty: not sent yet.', null=True),
        ),
        migrations.AddField(
            model_name='job',
            name='heartbeat_at',
            field=models.DateTimeField(blank=True, help_text="Its worker's last sign of life.", null=True),
        ),
        migrations.AddField(
            model_name='job',
            name='worker',
            field=models.CharField(blank=True, help_text='Host and process id of its worker.', max_length=255),
        ),
    ]
