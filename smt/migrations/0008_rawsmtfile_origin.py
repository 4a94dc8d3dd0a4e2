# The origin of every raw file, which decides what the worker may make of it (docs/SECURITY.md).
# Existing rows are classified from what was recorded at upload: the uploader identity, the
# source label and the bundle parent.

from django.db import migrations, models


def origin_fill(apps, schema_editor) -> None:
    RawSmtFile = apps.get_model("smt", "RawSmtFile")
    files = RawSmtFile.objects.all()
    # In this order: a later, narrower rule overrides an earlier one (a customer file is customer
    # whatever source label it was given).
    files.update(origin="staff")
    files.filter(uploader__in=["cli", "demo"]).update(origin="command")
    files.filter(uploader__startswith="token:").update(origin="token")
    files.filter(source="sftp").update(origin="mirror")
    files.filter(parent__isnull=False).update(origin="member")
    files.filter(uploader__startswith="customer:").update(origin="customer")


class Migration(migrations.Migration):
    dependencies = [("smt", "0007_interval_day_rollup")]

    operations = [
        migrations.AddField(
            model_name="rawsmtfile",
            name="origin",
            field=models.CharField(
                choices=[
                    ("customer", "Customer"),
                    ("staff", "Staff"),
                    ("token", "upload or admin token"),
                    ("mirror", "SFTP mirror"),
                    ("member", "bundle member"),
                    ("command", "command line"),
                ],
                default="customer",
                max_length=16,
            ),
        ),
        migrations.RunPython(origin_fill, migrations.RunPython.noop),
    ]
