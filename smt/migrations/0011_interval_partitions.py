# smt_interval becomes a declaratively partitioned table on PostgreSQL: range on ts, one partition
# a Central month plus a default one (config/partitions.py). Existing rows move over; the unique
# key and the covering index keep their names and columns; the primary key becomes (id, ts), as
# PostgreSQL requires the partition key in every unique key. The day-rollup triggers of 0007 are
# made again on the new parent: statement triggers on a partitioned table see the rows of every
# partition in their transition tables. SQLite keeps its one plain table (a no-op there).

from django.db import migrations

from config.partitions import Layout, table_partition, table_unpartition

LAYOUT = Layout(table="smt_interval", column="ts", zone="America/Chicago")

TRIGGERS = """
CREATE TRIGGER smt_interval_day_1_insert AFTER INSERT ON smt_interval
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION smt_interval_day_added();
CREATE TRIGGER smt_interval_day_1_update_old AFTER UPDATE ON smt_interval
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION smt_interval_day_removed();
CREATE TRIGGER smt_interval_day_2_update_new AFTER UPDATE ON smt_interval
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION smt_interval_day_added();
CREATE TRIGGER smt_interval_day_1_delete AFTER DELETE ON smt_interval
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION smt_interval_day_removed();
CREATE TRIGGER smt_interval_day_1_truncate AFTER TRUNCATE ON smt_interval
    FOR EACH STATEMENT EXECUTE FUNCTION smt_interval_day_truncated();
"""


def partition(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        table_partition(schema_editor, LAYOUT, key=["id", "ts"])
        schema_editor.execute(TRIGGERS)


def unpartition(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        table_unpartition(schema_editor, LAYOUT)
        schema_editor.execute(TRIGGERS)


class Migration(migrations.Migration):
    dependencies = [("smt", "0010_jobrun_moved_to_ops")]
    operations = [migrations.RunPython(partition, unpartition)]
