# smt_interval_day (0007) partitioned like smt_interval (0011) on PostgreSQL: range on its local
# `day`, one partition a Central month plus a default one (config/partitions.py), so retention
# drops a month's day totals whole instead of deleting them row by row (a month of 100,000 ESIIDs
# is 3.1 M day rows). Existing rows move over. The primary key (esiid, meter, channel, day), which
# the rollup triggers' ON CONFLICT names, already holds the partition key and stays as it is: the
# table has no id column to add. Every month smt_interval has a partition for gets its day
# partition too (smt.partitions keeps them paired from here on). The triggers live on
# smt_interval and name this table, so they need nothing. SQLite has no day table (a no-op there).

from django.db import migrations

from config.partitions import (
    Layout,
    month_of,
    partition_create,
    partitions_existing,
    table_partition,
    table_unpartition,
)

INTERVALS = Layout(table="smt_interval", column="ts", zone="America/Chicago")
DAYS = Layout(table="smt_interval_day", column="day", zone="America/Chicago", column_type="date")
KEY = ["esiid", "meter", "channel", "day"]


def partition(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        table_partition(schema_editor, DAYS, key=KEY)
        for lower, _ in partitions_existing(INTERVALS).values():
            partition_create(DAYS, month_of(lower, INTERVALS.zone))


def unpartition(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        table_unpartition(schema_editor, DAYS, key=KEY)


class Migration(migrations.Migration):
    dependencies = [("smt", "0014_interval_newest")]
    operations = [migrations.RunPython(partition, unpartition)]
