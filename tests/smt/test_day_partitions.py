"""smt_interval_day partitioned by the same Central months as smt_interval on PostgreSQL
(migration 0015, smt/partitions.py): made with the interval months, dropped with them."""

import io
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.partitions import partitions_existing
from smt import partitions, usage
from smt.demo import interval_csv_lines
from smt.models import RawSmtFile
from tests.smt.test_partitions import exists
from tests.smt.test_partitions import normalize as normalize_esiids

pytestmark = pytest.mark.django_db
CENTRAL = ZoneInfo("America/Chicago")
A, B = "10443720000000901", "10443720000000902"
TOKEN = {"HTTP_X_SMT_UPLOAD_TOKEN": "test-upload-token"}
DAY_PARTITION = re.compile(r"\bsmt_interval_day_(?:y\d{4}m\d\d|default)\b")
# The day totals of February 2025, kept by the triggers and recounted from the intervals.
FEBRUARY_KEPT = (
    "SELECT esiid, meter, channel, day, found, kwh, estimated FROM smt_interval_day"
    " WHERE day >= '2025-02-01' AND day < '2025-03-01' ORDER BY 1, 2, 3, 4"
)
FEBRUARY_RECOUNTED = """
    SELECT esiid, meter, channel, (ts AT TIME ZONE 'America/Chicago')::date AS day, count(*), sum(kwh),
           count(*) FILTER (WHERE quality = 'estimated')
    FROM smt_interval WHERE ts >= '2025-02-01 00:00 America/Chicago' AND ts < '2025-03-01 00:00 America/Chicago'
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
"""


def query(sql: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def rows_in(table: str) -> int:
    return query(f'SELECT count(*) FROM "{table}"')[0][0]


def normalize(start: date, days: int) -> RawSmtFile:
    return normalize_esiids(start, days, esiids=(A, B))


def prune_keeping_from_10_february(settings) -> dict:
    settings.SMT_RETENTION_DAYS = (date(2025, 4, 15) - date(2025, 2, 10)).days
    query("SET CONSTRAINTS ALL IMMEDIATE")  # the files' deferred FK checks, else DROP refuses
    with CaptureQueriesContext(connection) as queries:
        result = partitions.intervals_prune(now=datetime(2025, 4, 15, 12, tzinfo=CENTRAL))
    result["sql"] = [q["sql"] for q in queries]
    return result


def test_the_day_table_is_partitioned_by_the_interval_months_with_its_key():
    assert query("SELECT relkind FROM pg_class WHERE relname = 'smt_interval_day'") == [("p",)]
    assert query(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'smt_interval_day'::regclass"
    ) == [("PRIMARY KEY (esiid, meter, channel, day)",)]  # the rollup triggers' ON CONFLICT target
    assert exists("smt_interval_day_esiid_day") and exists("smt_interval_day_default")
    months = {name.removeprefix("smt_interval_") for name in partitions_existing(partitions.LAYOUT)}
    assert {name.removeprefix("smt_interval_day_") for name in partitions_existing(partitions.DAY_LAYOUT)} == months


def test_retention_drops_the_old_months_day_partition_and_the_boundary_month_keeps_its_recount(settings):
    normalize(date(2025, 1, 1), 90)
    assert rows_in("smt_interval_day_y2025m01") == 2 * 31
    result = prune_keeping_from_10_february(settings)
    assert result["partitionsDropped"] == ["smt_interval_y2025m01"]
    assert result["dayPartitionsDropped"] == ["smt_interval_day_y2025m01"]
    assert not exists("smt_interval_day_y2025m01") and exists("smt_interval_day_y2025m02")
    assert 'DROP TABLE IF EXISTS "smt_interval_day_y2025m01_retired"' in result["sql"]
    assert query("SELECT relname FROM pg_class WHERE relname LIKE '%%retired'") == []
    assert query("SELECT min(day) FROM smt_interval_day") == [(date(2025, 2, 10),)]
    february = query(FEBRUARY_KEPT)
    assert len(february) == 2 * (28 - 9) and february == query(FEBRUARY_RECOUNTED)
    assert usage.day_totals_drift() == []


def test_retention_also_removes_day_rows_a_missing_day_partition_left_in_the_default(settings):
    """A January whose day partition was missing (its day rows in the default partition)."""
    normalize(date(2025, 1, 1), 90)
    query("ALTER TABLE smt_interval_day DETACH PARTITION smt_interval_day_y2025m01")
    query("INSERT INTO smt_interval_day SELECT * FROM smt_interval_day_y2025m01")
    query("DROP TABLE smt_interval_day_y2025m01")
    assert rows_in("smt_interval_day_default") == 2 * 31
    result = prune_keeping_from_10_february(settings)
    assert result["dayPartitionsDropped"] == []
    assert rows_in("smt_interval_day_default") == 0
    assert query(FEBRUARY_KEPT) == query(FEBRUARY_RECOUNTED) and usage.day_totals_drift() == []


@pytest.mark.django_db(transaction=True)  # the commit is what is observed
def test_retention_commits_the_detach_before_it_removes_the_files(settings):
    """The files go after the tables' locks are released: the detach's transaction commits first.
    Seen from a second connection while the files are being removed: January is no longer in the
    table, and its retired table is still there."""
    import psycopg
    from django.db import connections

    normalize(date(2025, 1, 1), 90)
    query("SET CONSTRAINTS ALL IMMEDIATE")
    settings.SMT_RETENTION_DAYS = (date(2025, 4, 15) - date(2025, 2, 10)).days
    seen = []
    dsn = connections["default"].get_connection_params()
    real_drop = partitions.partitions_retired_drop

    def drop_watched(layout):
        if layout is partitions.LAYOUT:
            params = {k: v for k, v in dsn.items() if k in ("host", "port", "user", "password", "dbname")}
            with psycopg.connect(**params, autocommit=True) as other:
                seen.append(
                    other.execute(
                        "SELECT to_regclass('smt_interval_y2025m01') IS NULL,"
                        " to_regclass('smt_interval_y2025m01_retired') IS NOT NULL"
                    ).fetchone()
                )
        return real_drop(layout)

    partitions.partitions_retired_drop = drop_watched
    try:
        result = partitions.intervals_prune(now=datetime(2025, 4, 15, 12, tzinfo=CENTRAL))
    finally:
        partitions.partitions_retired_drop = real_drop
    assert seen == [(False, False), (True, True)], seen  # leftovers cleared before; then after the commit
    assert set(result["seconds"]) == {"transaction", "filesRemoved"}
    assert not exists("smt_interval_y2025m01_retired") and not exists("smt_interval_day_y2025m01_retired")


def test_a_month_retired_but_not_yet_removed_is_removed_by_the_next_prune_and_its_name_is_free(settings):
    """A crash between the retention's commit and the removal of the files leaves a retired table:
    the next prune removes it, and the month's name was free in the meantime for old data again."""
    from config.partitions import partitions_retire_before

    normalize(date(2025, 1, 1), 90)
    query("SET CONSTRAINTS ALL IMMEDIATE")
    retired = partitions_retire_before(partitions.LAYOUT, cutoff=datetime(2025, 2, 1, tzinfo=CENTRAL))
    assert [name for name, _, _ in retired] == ["smt_interval_y2025m01"]
    assert exists("smt_interval_y2025m01_retired") and not exists("smt_interval_y2025m01")
    partitions.interval_partitions_ensure(
        start=datetime(2025, 1, 5, tzinfo=CENTRAL), end=datetime(2025, 1, 5, tzinfo=CENTRAL)
    )
    assert exists("smt_interval_y2025m01")  # made afresh beside the retired one
    prune_keeping_from_10_february(settings)
    assert not exists("smt_interval_y2025m01_retired") and not exists("smt_interval_y2025m01")


def test_a_2019_upload_creates_the_months_of_both_tables(client):
    data = "".join(interval_csv_lines(esiids=[A], start=date(2019, 1, 1), days=40)).encode()
    upload = io.BytesIO(data)
    upload.name = "2019.csv"
    response = client.post("/upload", {"file": upload, "source": "smt-inline", "meter": "M1"}, **TOKEN)
    assert response.status_code == 201, response.content
    assert (rows_in("smt_interval_y2019m01"), rows_in("smt_interval_y2019m02")) == (31 * 96, 9 * 96)
    assert (rows_in("smt_interval_day_y2019m01"), rows_in("smt_interval_day_y2019m02")) == (31, 9)
    assert rows_in("smt_interval_default") == rows_in("smt_interval_day_default") == 0
    assert usage.day_totals_drift() == []


def test_a_one_esiid_year_daily_summary_reads_only_that_years_day_partitions():
    partitions.interval_partitions_ensure(
        start=datetime(2024, 11, 1, tzinfo=CENTRAL), end=datetime(2026, 2, 1, tzinfo=CENTRAL)
    )
    normalize(date(2024, 12, 25), 20)
    with CaptureQueriesContext(connection) as queries:
        days = usage.daily_summary(esiid=A, start=date(2025, 1, 1), end=date(2025, 12, 31))
    assert sum(d.found for d in days) == 13 * 96
    (totals,) = [q["sql"] for q in queries if "FROM smt_interval_day" in q["sql"]]
    plan = "\n".join(line for (line,) in query(f"EXPLAIN {totals}"))
    assert set(DAY_PARTITION.findall(plan)) == {f"smt_interval_day_y2025m{m:02d}" for m in range(1, 13)}, plan


@pytest.mark.django_db(transaction=True)
def test_the_migration_back_and_forth_keeps_the_day_totals():
    normalize(date(2025, 1, 20), 20)
    before = query("SELECT * FROM smt_interval_day ORDER BY 1, 2, 3, 4")
    call_command("migrate", "smt", "0014", verbosity=0)
    try:
        assert query("SELECT relkind FROM pg_class WHERE relname = 'smt_interval_day'") == [("r",)]
        assert query("SELECT * FROM smt_interval_day ORDER BY 1, 2, 3, 4") == before
    finally:
        call_command("migrate", "smt", verbosity=0)
    assert query("SELECT * FROM smt_interval_day ORDER BY 1, 2, 3, 4") == before
    assert (rows_in("smt_interval_day_y2025m01"), rows_in("smt_interval_day_y2025m02")) == (2 * 12, 2 * 8)
    assert rows_in("smt_interval_day_default") == 0 and usage.day_totals_drift() == []
