# JobRun moves from smt to ops: the model's state only. The table keeps its name (smt_jobrun)
# and its rows, so nothing is copied and running workers never see it missing.

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0001_initial"),
        ("smt", "0005_jobrun_other_apps"),  # the table as it stands
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="JobRun",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("mirror", "Mirror"),
                                    ("ingest", "Ingest"),
                                    ("normalize", "Normalize"),
                                    ("sweep", "Sweep"),
                                    ("ercot-fetch", "ERCOT fetch"),
                                    ("reconcile", "telemetry reconcile"),
                                    ("prune", "telemetry prune"),
                                ],
                                max_length=16,
                            ),
                        ),
                        (
                            "trigger",
                            models.CharField(
                                choices=[
                                    ("schedule", "Schedule"),
                                    ("manual", "Manual"),
                                    ("webhook", "Webhook"),
                                    ("command", "Command"),
                                    ("queue", "queue (upload or button)"),
                                ],
                                max_length=16,
                            ),
                        ),
                        (
                            "esiid",
                            models.CharField(
                                blank=True, default="", help_text="Set for an ESIID trigger.", max_length=22
                            ),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("queued", "Queued"),
                                    ("running", "Running"),
                                    ("succeeded", "Succeeded"),
                                    ("partial", "Partial"),
                                    ("failed", "Failed"),
                                    ("skipped", "Skipped"),
                                ],
                                db_index=True,
                                default="queued",
                                max_length=16,
                            ),
                        ),
                        ("created_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                        ("started_at", models.DateTimeField(blank=True, null=True)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        ("counts", models.JSONField(blank=True, default=dict)),
                        ("log", models.TextField(blank=True, default="", help_text="The last lines of the run's log.")),
                        ("error", models.TextField(blank=True, default="")),
                        ("task_id", models.CharField(blank=True, default="", max_length=64)),
                    ],
                    options={
                        "db_table": "smt_jobrun",
                        "ordering": ["-created_at", "-id"],
                    },
                )
            ]
        ),
    ]
