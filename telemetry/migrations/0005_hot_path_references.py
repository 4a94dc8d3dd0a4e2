"""Raw events and ledger entries carry their device without a database constraint, and the
ledger's superseded_by pointer has no index: see HOT_PATH_FK in telemetry/models.py."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("telemetry", "0004_device_assignment"),
    ]

    operations = [
        migrations.AlterField(
            model_name="ledgerentry",
            name="device",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="entries",
                to="telemetry.device",
            ),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="superseded_by",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="telemetry.ledgerentry",
            ),
        ),
        migrations.AlterField(
            model_name="rawevent",
            name="device",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="events",
                to="telemetry.device",
            ),
        ),
    ]
