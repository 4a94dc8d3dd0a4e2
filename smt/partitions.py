"""smt_interval's monthly partitions on PostgreSQL (migration 0011), and smt_interval_day's for
the same months (0015): made ahead by the smt-partitions schedule and on demand for a file of
older months; SMT_RETENTION_DAYS in whole partitions of both. The embedded SQLite database has
one plain table, and every function here is a no-op there."""

import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from config.partitions import (
    Layout,
    next_month,
    partitions_ensure,
    partitions_retire_before,
    partitions_retired_drop,
)
from smt.models import SmtInterval

# Central months, like the daily summary's days: one ESIID-month is one partition, and a
# partition's rows feed exactly the smt_interval_day rows of its local days.
LAYOUT = Layout(table="smt_interval", column="ts", zone="America/Chicago")
DAY_LAYOUT = Layout(table="smt_interval_day", column="day", zone=LAYOUT.zone, column_type="date")
ZONE = ZoneInfo(LAYOUT.zone)
AHEAD_MONTHS = 3


def _partitioned() -> bool:
    return connection.vendor == "postgresql"


def interval_partitions_ensure(*, start: datetime, end: datetime) -> list[str]:
    """Partitions for the months from start to end (and for rows a default partition caught), in
    smt_interval and smt_interval_day alike. Returns the interval partitions created (their day
    partitions are named alike)."""
    if not _partitioned():
        return []
    partitions_ensure(DAY_LAYOUT, start=start, end=end)
    return partitions_ensure(LAYOUT, start=start, end=end)


def interval_partitions_ensure_epochs(*, ts_min: int | None, ts_max: int | None) -> list[str]:
    """For a normalized file's span (parser stats are epoch seconds): a 2019 export gets its months."""
    if ts_min is None or ts_max is None:
        return []
    return interval_partitions_ensure(
        start=datetime.fromtimestamp(ts_min, tz=UTC), end=datetime.fromtimestamp(ts_max, tz=UTC)
    )


def interval_partitions_maintain(*, now: datetime | None = None) -> dict:
    """The schedule's work: this month and AHEAD_MONTHS more exist, then retention."""
    now = now or timezone.now()
    end = datetime.combine(_months_after(now.date(), AHEAD_MONTHS), datetime.min.time(), tzinfo=UTC)
    created = interval_partitions_ensure(start=now, end=end)
    return {"partitionsCreated": created, **intervals_prune(now=now)}


def intervals_prune(*, now: datetime | None = None) -> dict:
    """Intervals older than SMT_RETENTION_DAYS (0: keep all): whole months by dropping their
    partitions and their day totals' partitions (and reading the newest interval of the ESIIDs
    they held again), then a DELETE inside the month holding the cutoff (the rollup triggers
    settle that part). The cutoff is a local midnight, so no day is cut in two."""
    days = settings.SMT_RETENTION_DAYS
    if days <= 0:
        return {"partitionsDropped": [], "dayPartitionsDropped": [], "intervalsDeleted": 0}
    first_kept = timezone.localtime(now or timezone.now(), ZONE).date() - timedelta(days=days)
    cutoff = datetime(first_kept.year, first_kept.month, first_kept.day, tzinfo=ZONE)
    if not _partitioned():
        deleted = SmtInterval.objects.filter(ts__lt=cutoff)._raw_delete(SmtInterval.objects.db)
        return {"partitionsDropped": [], "dayPartitionsDropped": [], "intervalsDeleted": deleted}
    # What a crash left retired is removed first, outside the transaction that locks the tables.
    partitions_retired_drop(LAYOUT)
    partitions_retired_drop(DAY_LAYOUT)
    started = time.perf_counter()
    with transaction.atomic():
        # Intervals first, then days: the order an ingest's rollup triggers lock the two tables in.
        dropped = partitions_retire_before(LAYOUT, cutoff=cutoff)
        # Every interval before the cutoff is gone once this transaction commits, so every day
        # partition wholly before it holds only totals of gone intervals.
        days_dropped = partitions_retire_before(DAY_LAYOUT, cutoff=first_kept)
        with connection.cursor() as cursor:
            if dropped:
                end = max(upper for _, _, upper in dropped)
                # Day rows of those months still in the day table are in its default partition (a month
                # whose day partition was missing): the only partition left below `end`, empty as a rule.
                cursor.execute("DELETE FROM smt_interval_day WHERE day < %s", [_local_day(end)])
                _newest_recompute_before(end)
            cursor.execute("DELETE FROM smt_interval WHERE ts < %s", [cutoff])
            deleted = cursor.rowcount
    committed = time.perf_counter()
    # The tables' locks are released: the retired months' files go now, locking nothing anyone reads.
    partitions_retired_drop(LAYOUT)
    partitions_retired_drop(DAY_LAYOUT)
    return {
        "partitionsDropped": [name for name, _, _ in dropped],
        "dayPartitionsDropped": [name for name, _, _ in days_dropped],
        "intervalsDeleted": deleted,
        # How long readers of the tables waited (the transaction) and what removing files took after.
        "seconds": {
            "transaction": round(committed - started, 3),
            "filesRemoved": round(time.perf_counter() - committed, 3),
        },
    }


def _newest_recompute_before(upper: datetime) -> None:
    """A dropped partition's rows leave without firing the smt_interval_newest triggers (migration
    0013): every ESIID whose newest interval lay before the end of the dropped months is read again,
    which also drops the row of an ESIID with nothing left."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT smt_interval_newest_recompute(ARRAY(SELECT esiid FROM smt_interval_newest WHERE ts < %s))", [upper]
        )


def _local_day(moment: datetime) -> date:
    return moment.astimezone(ZONE).date()


def _months_after(day: date, count: int) -> date:
    month = day.replace(day=1)
    for _ in range(count + 1):
        month = next_month(month)
    return month - timedelta(days=1)
