# telemetry_rawevent becomes a declaratively partitioned table on PostgreSQL: range on ts (the
# time a reading is stored under: device time, or received time when the device sent none), one
# partition a UTC month plus a default one (config/partitions.py). A unique key of a partitioned
# table must contain ts, and a reading resent without device time gets a new ts, so the
# per-boot sequence key moves to telemetry_rawevent_seq, a narrow unpartitioned table
# (device_id, boot_id, seq) -> ts that the ingest path writes in the same statement as the events
# (telemetry/ingest.py) and retention prunes by the same cutoff (telemetry/reconcile.py).
# rawevent_once_per_ts_counter holds ts already and stays, per partition. The primary key becomes
# (id, ts); ids still come from one sequence, so the ledger's pointers keep their meaning.
# SQLite keeps its one plain table and rawevent_once_per_seq (a no-op there).

from django.db import migrations

from config.partitions import Layout, table_partition, table_unpartition

LAYOUT = Layout(table="telemetry_rawevent", column="ts", zone="UTC")

KEYS = """
CREATE TABLE telemetry_rawevent_seq (
    device_id bigint NOT NULL,
    boot_id varchar(64) NOT NULL,
    seq bigint NOT NULL,
    ts timestamptz NOT NULL,
    PRIMARY KEY (device_id, boot_id, seq)
);
-- Retention deletes keys by time; keys arrive in about device-time order, which BRIN summarises
-- for next to nothing per insert.
CREATE INDEX rawevent_seq_ts ON telemetry_rawevent_seq USING brin (ts);
INSERT INTO telemetry_rawevent_seq (device_id, boot_id, seq, ts)
    SELECT device_id, boot_id, seq, ts FROM telemetry_rawevent WHERE seq IS NOT NULL;
DROP INDEX rawevent_once_per_seq;
"""

# A TRUNCATE of the events (manage.py flush, test flushes, the benches) empties the keys too: the
# key table is no model Django knows, and keys left behind would refuse the readings of devices
# whose ids a flush restarted.
TRUNCATE_TRIGGER = """
CREATE FUNCTION telemetry_rawevent_seq_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE telemetry_rawevent_seq;
    RETURN NULL;
END $$;
CREATE TRIGGER telemetry_rawevent_seq_truncate AFTER TRUNCATE ON telemetry_rawevent
    FOR EACH STATEMENT EXECUTE FUNCTION telemetry_rawevent_seq_truncate();
"""

UNKEYS = """
DROP FUNCTION telemetry_rawevent_seq_truncate() CASCADE;
DROP TABLE telemetry_rawevent_seq;
CREATE UNIQUE INDEX rawevent_once_per_seq ON telemetry_rawevent (device_id, boot_id, seq) WHERE seq IS NOT NULL;
"""


def partition(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(KEYS)
        table_partition(schema_editor, LAYOUT, key=["id", "ts"])
        schema_editor.execute(TRUNCATE_TRIGGER)


def unpartition(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        table_unpartition(schema_editor, LAYOUT)
        schema_editor.execute(UNKEYS)


class Migration(migrations.Migration):
    dependencies = [("telemetry", "0008_verbose_names")]
    operations = [migrations.RunPython(partition, unpartition)]
