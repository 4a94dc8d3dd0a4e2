"""telemetry_rawevent's monthly partitions on PostgreSQL (migration 0008): UTC months on ts, made
ahead by the telemetry-prune schedule; TELEMETRY_RETENTION_DAYS in whole partitions, with the
per-boot sequence keys (telemetry_rawevent_seq) pruned by the same cutoff. The embedded SQLite
database keeps one plain table and never calls this module (reconcile.events_prune)."""

from datetime import datetime

from django.db import connection, transaction

from config.partitions import (
    Layout,
    month_of,
    next_month,
    partitions_drop_before,
    partitions_ensure,
    partitions_existing,
)
from telemetry.ingest import SEQ_TABLE
from telemetry.models import RawEvent

# UTC months: readings carry instants, no day here is local, and a month's partition is the same
# whatever TELEMETRY_TIME_ZONE says (changing it must not move rows).
LAYOUT = Layout(table=RawEvent._meta.db_table, column="ts", zone="UTC")
AHEAD_MONTHS = 3


def event_partitions_ensure(*, now: datetime) -> list[str]:
    """This month and AHEAD_MONTHS more, and the months of readings the default partition caught
    (a device clock far off); returns the names created."""
    last = month_of(now, LAYOUT.zone)
    for _ in range(AHEAD_MONTHS):
        last = next_month(last)
    return partitions_ensure(LAYOUT, start=now, end=last)


def events_prune_partitioned(*, cutoff: datetime, now: datetime) -> dict:
    """Raw events stored under a time before the cutoff: months wholly before it dropped whole,
    a DELETE only inside the month holding it (and in a month still holding unprocessed
    readings, which are kept as on SQLite). Then their sequence keys, so a reading resent after
    retention is stored again, as before partitioning. Returns the partitions dropped, the rows
    they held (PostgreSQL's estimate once autovacuum analysed the partition) and the rows deleted."""
    created = event_partitions_ensure(now=now)  # rows the default caught move out, to drop with their month
    with transaction.atomic():
        rows = {
            name: _rows_estimate(name) for name, (_, upper) in partitions_existing(LAYOUT).items() if upper <= cutoff
        }
        dropped = [name for name, _, _ in partitions_drop_before(LAYOUT, cutoff=cutoff, keep=_holds_unprocessed)]
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {LAYOUT.table} WHERE ts < %s AND processed", [cutoff])
            deleted = cursor.rowcount
            cursor.execute(
                f"DELETE FROM {SEQ_TABLE} k WHERE k.ts < %s AND NOT EXISTS (SELECT 1 FROM {LAYOUT.table} e"
                " WHERE e.device_id = k.device_id AND e.ts = k.ts AND e.boot_id = k.boot_id AND e.seq = k.seq)",
                [cutoff],
            )
            keys = cursor.rowcount
    return {
        "partitionsCreated": created,
        "partitionsDropped": dropped,
        "eventsDropped": sum(rows[name] for name in dropped),
        "eventsDeleted": deleted,
        "keysDeleted": keys,
    }


def _holds_unprocessed(name: str) -> bool:
    """The partial index rawevent_unprocessed answers at once."""
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT EXISTS (SELECT 1 FROM "{name}" WHERE NOT processed)')
        return cursor.fetchone()[0]


def _rows_estimate(name: str) -> int:
    """PostgreSQL's row estimate of a partition autovacuum analysed; counted when it never was
    (a count reads the whole month, which a drop exists to avoid)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)", [name])
        estimate = cursor.fetchone()[0]
        if estimate is not None and estimate >= 0:
            return estimate
        cursor.execute(f'SELECT count(*) FROM "{name}"')
        return cursor.fetchone()[0]
