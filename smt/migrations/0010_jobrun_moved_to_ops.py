# JobRun moved to ops (ops 0002): smt forgets the model's state; the table stays where it is.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("smt", "0009_upload_refusal"),
        ("ops", "0002_jobrun"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="JobRun")]),
    ]
