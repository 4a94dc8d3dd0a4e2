"""B-tree indexes the ingest path paid for on every row give way to BRIN indexes: raw events by
received time, ledger entries by their time span (retention and rebuilds look them up by time).
Both tables are appended in time order, which is what BRIN summarises. BRIN is PostgreSQL's; the
embedded SQLite set-up gets plain indexes."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

INDEXES = [
    ("telemetry_rawevent", "rawevent_received_at", "received_at"),
    ("telemetry_ledgerentry", "ledger_span", "start_ts, end_ts"),
]


def indexes_create(apps, schema_editor):
    brin = schema_editor.connection.vendor == "postgresql"
    for table, name, columns in INDEXES:
        using = " USING brin" if brin else ""
        schema_editor.execute(f"CREATE INDEX {name} ON {table}{using} ({columns})")


def indexes_drop(apps, schema_editor):
    for _table, name, _columns in INDEXES:
        schema_editor.execute(f"DROP INDEX {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("telemetry", "0005_hot_path_references"),
    ]

    operations = [
        migrations.AlterField(
            model_name="ledgerentry",
            name="end_event",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
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
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="telemetry.rawevent",
            ),
        ),
        migrations.AlterField(
            model_name="rawevent",
            name="received_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.RunPython(indexes_create, indexes_drop),
    ]
