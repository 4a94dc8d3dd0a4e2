"""Fewer index writes on the ingest path: raw events keep the indexes their lookups use, and
device rows and daily totals, rewritten by every stored batch, leave room on their pages so
PostgreSQL can update them in place (HOT) instead of adding index entries each time."""

import django.db.models.deletion
from django.db import migrations, models


def fillfactor(table: str, percent: int):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {percent})")

    return apply


class Migration(migrations.Migration):
    dependencies = [
        ("telemetry", "0001_initial"),
    ]

    operations = [
        # The (device, ts, energy_wh) unique index serves the same lookups.
        migrations.RemoveIndex(
            model_name="rawevent",
            name="telemetry_r_device__9e9eb6_idx",
        ),
        migrations.AlterField(
            model_name="device",
            name="last_seen_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="rawevent",
            name="device",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="events",
                to="telemetry.device",
            ),
        ),
        migrations.RunPython(fillfactor("telemetry_device", 50), fillfactor("telemetry_device", 100)),
        migrations.RunPython(fillfactor("telemetry_dailytotal", 70), fillfactor("telemetry_dailytotal", 100)),
    ]
