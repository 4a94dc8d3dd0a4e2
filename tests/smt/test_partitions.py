"""smt_interval partitioned by Central month on PostgreSQL (migration 0008, smt/partitions.py)."""

import hashlib
import io
import re
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Schedule
from django_q.scheduler import scheduler

from smt import partitions, storage, usage
from smt.demo import interval_csv_lines
from smt.models import RawSmtFile, SmtInterval
from smt.monitors import smt_newest_intervals, smt_newest_intervals_plain
from smt.normalize import raw_file_normalize

pytestmark = pytest.mark.django_db
CENTRAL = ZoneInfo("America/Chicago")
ESIID = "10443720000000777"
TOKEN = {"HTTP_X_SMT_UPLOAD_TOKEN": "test-upload-token"}
PARTITION = re.compile(r"smt_interval_(y\d{4}m\d\d|default)\b")


def rows_in(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{table}"')
        return cursor.fetchone()[0]


def rows_of(query: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(query)
        return cursor.fetchone()[0]


def exists(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
        return cursor.fetchone()[0]


def normalize(start: date, days: int, esiids: tuple[str, ...] = (ESIID,)) -> RawSmtFile:
    data = "".join(interval_csv_lines(esiids=list(esiids), start=start, days=days)).encode()
    raw = storage.raw_file_store(
        fileobj=io.BytesIO(data),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        filename=f"{start}.csv",
        origin="staff",
    ).raw_file
    assert "error" not in raw_file_normalize(raw_file=raw)
    return raw


def touched(sql: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(line for (line,) in cursor.fetchall())
    return {f"smt_interval_{m}" for m in PARTITION.findall(plan)}


def test_the_interval_table_is_partitioned_with_its_key_and_covering_index():
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE relname = 'smt_interval'")
        assert cursor.fetchone()[0] == "p"
        cursor.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'smt_interval_key'")
        assert cursor.fetchone()[0] == "UNIQUE (esiid, meter, channel, ts)"
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'smt_interval_esiid_ts_cov'")
        assert "(esiid, ts) INCLUDE (meter, channel, kwh, quality)" in cursor.fetchone()[0]
    month = timezone.localtime(timezone.now(), CENTRAL).date()
    assert exists(partitions.LAYOUT.name(month.replace(day=1)))


def test_a_2019_export_through_the_upload_endpoint_loads_into_its_own_months(client):
    data = "".join(interval_csv_lines(esiids=[ESIID], start=date(2019, 1, 1), days=40)).encode()
    upload = io.BytesIO(data)
    upload.name = "2019.csv"
    response = client.post("/upload", {"file": upload, "source": "smt-inline", "meter": "M1"}, **TOKEN)
    assert response.status_code == 201, response.content
    assert RawSmtFile.objects.get(pk=response.json()["rawId"]).status == "normalized"
    assert SmtInterval.objects.count() == 40 * 96
    assert (rows_in("smt_interval_y2019m01"), rows_in("smt_interval_y2019m02")) == (31 * 96, 9 * 96)
    assert rows_in("smt_interval_default") == 0
    assert usage.day_totals_drift() == []  # moving rows between partitions left the day totals alone
    assert len(usage.daily_summary(esiid=ESIID, start=date(2019, 1, 1), end=date(2019, 2, 9))) == 40


def test_an_overlapping_reupload_upserts_across_partitions_and_keeps_day_totals():
    normalize(date(2025, 1, 20), 20)
    SmtInterval.objects.filter(ts__lt=datetime(2025, 2, 3, tzinfo=CENTRAL)).update(kwh=0)
    raw = RawSmtFile.objects.get()  # the same bytes again are a duplicate: normalize the stored file again
    raw.set_status(RawSmtFile.Status.RECEIVED)
    stats = raw_file_normalize(raw_file=raw)
    assert stats["intervalsInserted"] == 0 and SmtInterval.objects.count() == 20 * 96
    assert usage.day_totals_drift() == []


def test_the_schedule_creates_partitions_for_the_coming_months():
    month = timezone.localtime(timezone.now(), CENTRAL).date().replace(day=1)
    for _ in range(partitions.AHEAD_MONTHS):
        month = (month + timedelta(days=32)).replace(day=1)
    name = partitions.LAYOUT.name(month)
    with connection.cursor() as cursor:
        cursor.execute(f'DROP TABLE "{name}"')
    call_command("setup_schedules")
    Schedule.objects.update(next_run=timezone.now() + timedelta(hours=1))
    Schedule.objects.filter(name="smt-partitions").update(next_run=timezone.now() - timedelta(seconds=1))
    scheduler(broker=get_broker())  # tasks run inline in tests (sync)
    assert exists(name)


def test_retention_drops_whole_months_and_deletes_only_inside_the_boundary_month(settings):
    normalize(date(2025, 1, 1), 90)
    now = datetime(2025, 4, 15, 12, tzinfo=CENTRAL)
    settings.SMT_RETENTION_DAYS = (date(2025, 4, 15) - date(2025, 2, 10)).days  # keeps 10 February on
    result = partitions.intervals_prune(now=now)
    assert result["partitionsDropped"] == ["smt_interval_y2025m01"]
    assert result["intervalsDeleted"] == 9 * 96  # 1 to 9 February, inside the boundary partition
    assert not exists("smt_interval_y2025m01") and exists("smt_interval_y2025m02")
    first = SmtInterval.objects.order_by("ts").first().ts
    assert first == datetime(2025, 2, 10, tzinfo=CENTRAL)
    assert usage.day_totals_drift() == []  # the dropped month's day totals went with it
    assert SmtInterval.objects.count() == (90 - 40) * 96 - 4  # 9 March has 92 intervals


def test_retention_is_off_by_default(settings):
    normalize(date(2025, 1, 1), 10)
    assert partitions.intervals_prune(now=datetime(2030, 1, 1, tzinfo=CENTRAL))["intervalsDeleted"] == 0
    assert SmtInterval.objects.count() == 10 * 96


def test_a_one_month_intervals_query_touches_only_that_months_partition():
    partitions.interval_partitions_ensure(
        start=datetime(2024, 12, 1, tzinfo=CENTRAL), end=datetime(2026, 1, 1, tzinfo=CENTRAL)
    )
    start, end = usage.day_bounds(date(2025, 3, 1), date(2025, 3, 31))
    month = usage.intervals_for(esiid=ESIID, meter="M1").filter(ts__gte=start, ts__lt=end).order_by("ts")
    sql, params = month.query.sql_with_params()
    with connection.cursor() as cursor:
        sql = cursor.mogrify(sql, params)
    assert touched(sql) == {"smt_interval_y2025m03"}


def test_a_one_esiid_year_summary_touches_only_that_years_partitions():
    normalize(date(2024, 12, 25), 380)
    SmtInterval.objects.filter(
        ts__gte=datetime(2025, 6, 3, 10, tzinfo=CENTRAL), ts__lt=datetime(2025, 6, 3, 12, tzinfo=CENTRAL)
    ).delete()
    with CaptureQueriesContext(connection) as queries:
        days = usage.daily_summary(esiid=ESIID, start=date(2025, 1, 1), end=date(2025, 12, 31))
    assert [d.found for d in days if d.date == "2025-06-03"] == [96 - 8]
    on_intervals = [q["sql"] for q in queries if re.search(r"\bsmt_interval\b(?!_day)", q["sql"])]
    assert on_intervals  # the gap query of the partly filled day
    year = {f"smt_interval_y2025m{m:02d}" for m in range(1, 13)}
    for sql in on_intervals:
        assert touched(sql) and touched(sql) <= year, sql


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_existing_rows_with_their_ids_and_day_totals():
    call_command("migrate", "smt", "0007", verbosity=0)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO smt_interval (esiid, meter, channel, ts, kwh, quality, row_number)"
                " SELECT %s, 'M1', 'consumption', timestamptz '2023-12-31 18:00+00' + g * interval '15 min', 0.125, 'actual', g"
                " FROM generate_series(0, 9999) g",
                [ESIID],
            )
            cursor.execute("SELECT (SELECT max(id) FROM smt_interval), (SELECT sum(found) FROM smt_interval_day)")
            last_id, found = cursor.fetchone()
    finally:
        call_command("migrate", "smt", verbosity=0)
    assert found == 10000 and SmtInterval.objects.count() == 10000
    assert SmtInterval.objects.order_by("-id").first().id == last_id
    assert rows_in("smt_interval_default") == 0 and rows_in("smt_interval_y2024m01") == 31 * 96
    assert usage.day_totals_drift() == []
    assert smt_newest_intervals() == smt_newest_intervals_plain() != {}  # 0013 filled it from the moved rows
    added = SmtInterval.objects.create(
        esiid=ESIID,
        channel="consumption",
        ts=datetime(2024, 6, 1, tzinfo=CENTRAL),
        kwh=1,
        quality="actual",
        row_number=2,
    )
    assert added.id == last_id + 1  # the sequence goes on after the moved rows
    assert usage.daily_summary(esiid=ESIID, start=date(2024, 6, 1), end=date(2024, 6, 1))[0].found == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_creating_the_same_missing_month_both_succeed_and_keep_every_row():
    """Old exports normalized in parallel each ask for their month's partition at once."""
    import threading

    from django.db import connections

    month = date(2015, 1, 1)
    name = partitions.LAYOUT.name(month)
    assert not exists(name)
    with connection.cursor() as cursor:  # rows of that month wait in the default partition
        cursor.execute(
            "INSERT INTO smt_interval (esiid, meter, channel, ts, kwh, quality, row_number)"
            " SELECT %s, 'M', 'consumption', %s::timestamptz + n * interval '15 minutes', 0.25, 'actual', n"
            " FROM generate_series(0, 95) AS n",
            [ESIID, datetime(2015, 1, 10, 6, tzinfo=ZoneInfo("UTC"))],
        )
    start = threading.Barrier(4)
    errors, created = [], []

    def create() -> None:
        try:
            start.wait()
            created.extend(
                partitions.interval_partitions_ensure(
                    start=datetime(2015, 1, 5, tzinfo=CENTRAL), end=datetime(2015, 1, 20, tzinfo=CENTRAL)
                )
            )
        except Exception as exc:  # the assertion below names what went wrong
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert created == [name]
    assert rows_in(name) == 96 and rows_in(partitions.LAYOUT.default) == 0


@pytest.mark.django_db(transaction=True)
def test_a_partition_created_while_another_worker_loads_that_month_waits_for_it_without_deadlock():
    """A worker's load reads smt_interval (every partition, the default one too) and then writes
    rows of a month with no partition yet; another worker creating that month meanwhile waits."""
    import threading

    from django.db import connections

    month = date(2015, 2, 1)
    name = partitions.LAYOUT.name(month)
    loader = connections.create_connection("default")
    loader.set_autocommit(False)
    with loader.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM smt_interval")
    errors, created = [], []

    def create() -> None:
        try:
            created.extend(
                partitions.interval_partitions_ensure(
                    start=datetime(2015, 2, 5, tzinfo=CENTRAL), end=datetime(2015, 2, 20, tzinfo=CENTRAL)
                )
            )
        except Exception as exc:  # the assertion below names what went wrong
            errors.append(repr(exc))
        finally:
            connections.close_all()

    creator = threading.Thread(target=create)
    creator.start()
    try:
        waiting = (
            f"SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = '{partitions.LAYOUT.default}'::regclass"
        )
        deadline = time.monotonic() + 30
        while rows_of(waiting) == 0:  # until the creator waits on the loader's read
            assert time.monotonic() < deadline, "the partition was created without waiting for the loader"
            time.sleep(0.05)
        with loader.cursor() as cursor:
            cursor.execute(
                "INSERT INTO smt_interval (esiid, meter, channel, ts, kwh, quality, row_number)"
                " VALUES (%s, 'M', 'consumption', %s, 0.25, 'actual', 1)",
                [ESIID, datetime(2015, 2, 10, 6, tzinfo=ZoneInfo("UTC"))],
            )
        loader.commit()
    finally:
        loader.close()
        creator.join(60)
    assert errors == [] and created == [name]
    assert rows_in(name) == 1 and rows_in(partitions.LAYOUT.default) == 0
