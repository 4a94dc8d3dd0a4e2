"""telemetry_rawevent partitioned by UTC month on PostgreSQL (migration 0009, telemetry/partitions.py):
duplicates caught across a month boundary through the sequence key table, retention in whole months."""

import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.partitions import partitions_ensure
from ops.metrics import estimated_rows
from telemetry import ingest, messages, partitions
from telemetry.models import Device, LedgerEntry, RawEvent
from telemetry.reconcile import events_prune

pytestmark = pytest.mark.django_db
PARTITION = re.compile(r"telemetry_rawevent_(y\d{4}m\d\d|default)\b")
BOUNDARY = datetime(2026, 3, 1, tzinfo=UTC)


def existing() -> set[str]:
    """The raw event partitions, from the catalog."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'telemetry_rawevent'::regclass"
        )
        return {name for (name,) in cursor.fetchall()}


def rows_in(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{table}"')
        return cursor.fetchone()[0]


def rows_deleted(table: str) -> int:
    """Rows DELETEd from the table in this transaction (each test runs in one)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT n_tup_del FROM pg_stat_xact_user_tables WHERE relname = %s", [table])
        return cursor.fetchone()[0]


def keys() -> set[tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT boot_id, seq, ts FROM telemetry_rawevent_seq")
        return set(cursor.fetchall())


def months(first: date, last: date) -> None:
    partitions_ensure(partitions.LAYOUT, start=first, end=last)


def send(device: str, received_at: datetime, **fields) -> ingest.RecordResult:
    """One message through the subscriber's path; no `ts` in fields: the device sent no time."""
    return ingest.messages_record([(f"autovolt/{device}/telemetry", json.dumps(fields).encode(), received_at)])


def test_the_raw_event_table_is_partitioned_by_utc_month_and_the_seq_key_lives_apart():
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE relname = 'telemetry_rawevent'")
        assert cursor.fetchone()[0] == "p"
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'rawevent_once_per_ts_counter'"
        )
        assert cursor.fetchone()[0] == "UNIQUE (device_id, ts, energy_wh)"
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'telemetry_rawevent_seq'::regclass"
        )
        assert cursor.fetchone()[0] == "PRIMARY KEY (device_id, boot_id, seq)"
    now = datetime.now(UTC)
    assert partitions.LAYOUT.name(now.date().replace(day=1)) in existing()


def test_a_reading_resent_without_device_time_in_the_next_month_is_a_duplicate():
    months(date(2026, 2, 1), date(2026, 3, 1))
    first = send("m1", BOUNDARY - timedelta(seconds=20), energy_wh_total=100, seq=7)
    again = send("m1", BOUNDARY + timedelta(seconds=20), energy_wh_total=100, seq=7)
    assert (first.stored, again.stored, again.duplicates) == (1, 0, 1)
    assert (rows_in("telemetry_rawevent_y2026m02"), rows_in("telemetry_rawevent_y2026m03")) == (1, 0)
    assert Device.objects.get(name="m1").duplicates == 1
    assert keys() == {("", 7, BOUNDARY - timedelta(seconds=20))}


def test_a_reading_resent_with_its_device_time_or_a_corrected_one_across_the_boundary_is_a_duplicate():
    months(date(2026, 2, 1), date(2026, 3, 1))
    at = BOUNDARY - timedelta(minutes=1)
    assert send("m1", at, energy_wh_total=100, seq=7, boot_id="b1", ts=at.isoformat()).stored == 1
    assert (
        send(
            "m1", BOUNDARY + timedelta(hours=1), energy_wh_total=100, seq=7, boot_id="b1", ts=at.isoformat()
        ).duplicates
        == 1
    )
    later = (BOUNDARY + timedelta(minutes=5)).isoformat()  # the device corrected its clock in between
    assert send("m1", BOUNDARY + timedelta(hours=1), energy_wh_total=101, seq=7, boot_id="b1", ts=later).duplicates == 1
    assert send("m1", BOUNDARY + timedelta(hours=1), energy_wh_total=5, seq=7, boot_id="b2", ts=later).stored == 1
    assert RawEvent.objects.count() == 2


def test_both_copies_in_one_batch_either_side_of_the_boundary_store_one():
    months(date(2026, 2, 1), date(2026, 3, 1))
    at = BOUNDARY - timedelta(seconds=5)
    items = [
        messages.ReadingIn(device="m1", ts=at, received_at=at, energy_wh=100, seq=3),
        messages.ReadingIn(device="m1", ts=BOUNDARY, received_at=BOUNDARY, energy_wh=100, seq=3),
    ]
    result = ingest.items_record(items)
    assert (result.stored, result.duplicates) == (1, 1)
    assert list(RawEvent.objects.values_list("ts", flat=True)) == [at]


def test_a_new_seq_repeating_a_stored_time_and_counter_is_dropped_without_keeping_its_key():
    # As with the old per-table index, a seq whose reading was never stored is not a key: the
    # key table holds the keys of stored readings exactly.
    at = BOUNDARY - timedelta(seconds=5)
    assert send("m1", at, energy_wh_total=100, seq=1, ts=at.isoformat()).stored == 1
    assert send("m1", at, energy_wh_total=100, seq=2, ts=at.isoformat()).duplicates == 1
    assert {seq for _, seq, _ in keys()} == {1}


def test_a_one_month_query_reads_only_that_months_partition():
    months(date(2026, 1, 1), date(2026, 4, 1))
    device = Device.objects.create(name="m1")
    query = RawEvent.objects.filter(device=device, ts__gte=BOUNDARY, ts__lt=datetime(2026, 4, 1, tzinfo=UTC)).order_by(
        "ts"
    )
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert set(PARTITION.findall(plan)) == {"y2026m03"}


def test_retention_drops_whole_months_and_deletes_only_inside_the_boundary_month(settings):
    settings.TELEMETRY_RETENTION_DAYS = 30
    now = datetime(2026, 3, 20, tzinfo=UTC)  # cutoff 2026-02-18 00:00 UTC
    months(date(2026, 1, 1), date(2026, 3, 1))
    for n, day in enumerate(
        [date(2026, 1, 10), date(2026, 1, 31), date(2026, 2, 10), date(2026, 2, 25), date(2026, 3, 5)]
    ):
        at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
        assert send("m1", at, energy_wh_total=100 * n, seq=n, ts=at.isoformat()).stored == 1

    assert events_prune(now=now) == 3
    assert "telemetry_rawevent_y2026m01" not in existing()
    assert {"telemetry_rawevent_y2026m02", "telemetry_rawevent_y2026m03", "telemetry_rawevent_y2026m06"} <= existing()
    assert rows_deleted("telemetry_rawevent_y2026m02") == 1  # the boundary month's one row before the cutoff
    assert rows_deleted("telemetry_rawevent_y2026m03") == 0
    assert (rows_in("telemetry_rawevent_y2026m02"), rows_in("telemetry_rawevent_y2026m03")) == (1, 1)
    assert {seq for _, seq, _ in keys()} == {3, 4}
    # The ledger keeps its entries; a pointer either names a stored reading or was cleared.
    stored = set(RawEvent.objects.values_list("pk", flat=True))
    for start, end in LedgerEntry.objects.current().values_list("start_event_id", "end_event_id"):
        assert start is None or start in stored
        assert end is None or end in stored
    assert LedgerEntry.objects.current().count() == 4
    # A reading resent after its key went is stored again, as before partitioning.
    at = datetime(2026, 2, 10, 12, tzinfo=UTC)
    assert send("m1", now, energy_wh_total=200, seq=2, ts=at.isoformat()).stored == 1


def test_retention_keeps_a_month_still_holding_unprocessed_readings_and_deletes_the_processed_ones_in_it(settings):
    settings.TELEMETRY_RETENTION_DAYS = 30
    months(date(2026, 1, 1), date(2026, 3, 1))
    for n, minute in enumerate((0, 10)):
        at = datetime(2026, 1, 10, 12, minute, tzinfo=UTC)
        send("m1", at, energy_wh_total=n, seq=n, ts=at.isoformat())
    RawEvent.objects.filter(seq=1).update(processed=False)

    assert events_prune(now=datetime(2026, 3, 20, tzinfo=UTC)) == 1
    assert "telemetry_rawevent_y2026m01" in existing()
    assert list(RawEvent.objects.values_list("seq", "processed")) == [(1, False)]
    assert {seq for _, seq, _ in keys()} == {1}


def test_retention_moves_readings_of_a_far_off_device_clock_out_of_the_default_partition_and_drops_them(settings):
    settings.TELEMETRY_RETENTION_DAYS = 30
    at = datetime(2019, 6, 1, tzinfo=UTC)
    ingest.items_record([messages.ReadingIn(device="m1", ts=at, received_at=at, energy_wh=1, seq=1)])
    assert rows_in("telemetry_rawevent_default") == 1

    assert events_prune(now=datetime(2026, 3, 20, tzinfo=UTC)) == 1
    assert rows_in("telemetry_rawevent_default") == 0
    assert not any(name.startswith("telemetry_rawevent_y2019") for name in existing())
    assert keys() == set()


def test_the_monitors_row_estimate_sums_the_analysed_partitions_instead_of_counting():
    months(date(2026, 2, 1), date(2026, 3, 1))
    device = Device.objects.create(name="m1")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO telemetry_rawevent (device_id, ts, received_at, energy_wh, switch_state, boot_id, source,"
            " processed) SELECT %s, t, t, n, '', '', 'mqtt', true FROM generate_series(1, 120000) AS n,"
            " LATERAL (SELECT %s::timestamptz + n * interval '20 seconds' AS t) AS at",
            [device.pk, BOUNDARY - timedelta(days=14)],
        )
        cursor.execute("ANALYZE telemetry_rawevent_y2026m02, telemetry_rawevent_y2026m03")
    with CaptureQueriesContext(connection) as queries:
        assert abs(estimated_rows("telemetry_rawevent") - 120000) < 6000
    assert not any("count(" in query["sql"] for query in queries.captured_queries)


def test_the_migration_moves_existing_readings_with_their_ids_and_their_seq_keys():
    call_command("migrate", "telemetry", "0008", verbosity=0)
    try:
        device = Device.objects.create(name="m1")
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO telemetry_rawevent (device_id, ts, received_at, energy_wh, switch_state, seq, boot_id,"
                " source, processed) SELECT %s, t, t, g, '', CASE WHEN g > 0 THEN g END, 'b1', 'mqtt', true"
                " FROM generate_series(0, 99) g, LATERAL (SELECT timestamptz '2025-05-31 12:00+00' + g * interval '1 hour' AS t) at",
                [device.pk],
            )
            cursor.execute("SELECT max(id) FROM telemetry_rawevent")
            last_id = cursor.fetchone()[0]
    finally:
        call_command("migrate", "telemetry", verbosity=0)
    assert (rows_in("telemetry_rawevent_y2025m05"), rows_in("telemetry_rawevent_y2025m06")) == (12, 88)
    assert rows_in("telemetry_rawevent_default") == 0 and len(keys()) == 99
    assert send("m1", datetime(2025, 7, 1, tzinfo=UTC), energy_wh_total=5, seq=5, boot_id="b1").duplicates == 1
    assert send("m1", datetime(2025, 7, 1, tzinfo=UTC), energy_wh_total=500, seq=500, boot_id="b1").stored == 1
    assert RawEvent.objects.order_by("-id").first().id == last_id + 1  # the sequence goes on after the moved rows


def test_truncating_the_events_as_a_flush_does_empties_the_seq_keys_too():
    at = BOUNDARY - timedelta(seconds=5)
    assert send("m1", at, energy_wh_total=100, seq=1, ts=at.isoformat()).stored == 1
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE telemetry_rawevent")
    assert keys() == set()
    assert send("m1", at, energy_wh_total=100, seq=1, ts=at.isoformat()).stored == 1
