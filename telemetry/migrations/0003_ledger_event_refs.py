"""The ledger's pointers to raw events lose their database constraint: see LedgerEntry.start_event."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("telemetry", "0002_ingest_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="ledgerentry",
            name="end_event",
            field=models.ForeignKey(
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="telemetry.rawevent",
            ),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="start_event",
            field=models.ForeignKey(
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="telemetry.rawevent",
            ),
        ),
    ]
