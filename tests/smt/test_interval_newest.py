"""smt_interval_newest (migration 0013): each ESIID's newest interval, kept by triggers on
smt_interval and by retention's partition drops, always equal to max(ts) per ESIID."""

import hashlib
import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from smt import partitions, storage, usage
from smt.demo import interval_csv_lines
from smt.models import RawSmtFile, SmtInterval
from smt.monitors import smt_newest_intervals, smt_newest_intervals_plain
from smt.normalize import raw_file_normalize

pytestmark = pytest.mark.django_db
CENTRAL = ZoneInfo("America/Chicago")
A, B, C = "10443720000000801", "10443720000000802", "10443720000000803"


def normalize(start: date, days: int, esiids: tuple[str, ...] = (A, B), seed: int = 1) -> RawSmtFile:
    data = "".join(interval_csv_lines(esiids=list(esiids), start=start, days=days, seed=seed)).encode()
    raw = storage.raw_file_store(
        fileobj=io.BytesIO(data),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        filename=f"{start}-{seed}.csv",
        origin="staff",
    ).raw_file
    assert "error" not in raw_file_normalize(raw_file=raw)
    return raw


def newest() -> dict[str, datetime]:
    """The table, compared with the reference (max(ts) per ESIID) before it is returned."""
    assert connection.vendor == "postgresql"
    kept = smt_newest_intervals()
    assert kept == smt_newest_intervals_plain()
    return kept


def end_of(day: date) -> datetime:
    """The start of the day's last interval (a plain 96-interval day)."""
    return datetime(day.year, day.month, day.day, 23, 45, tzinfo=CENTRAL)


def test_an_ingest_sets_each_esiids_newest_interval():
    normalize(date(2025, 3, 1), 5)
    assert newest() == {A: end_of(date(2025, 3, 5)), B: end_of(date(2025, 3, 5))}


def test_a_reingest_of_older_days_and_a_revision_keep_the_newest_interval():
    normalize(date(2025, 3, 1), 5)
    normalize(date(2025, 3, 1), 3, seed=2)  # older days again, with other readings: an upsert
    assert newest()[A] == end_of(date(2025, 3, 5))
    normalize(date(2025, 3, 4), 4, esiids=(A,), seed=3)  # overlaps and goes two days further
    assert newest() == {A: end_of(date(2025, 3, 7)), B: end_of(date(2025, 3, 5))}


def test_deleting_the_newest_day_moves_the_newest_interval_back_a_day():
    normalize(date(2025, 3, 1), 5)
    last = datetime(2025, 3, 5, tzinfo=CENTRAL)
    meter = SmtInterval.objects.filter(esiid=A).values_list("meter", flat=True).first()
    usage.intervals_delete(esiid=A, meter=meter, start=last, end=last + timedelta(days=1), actor="test")
    assert newest() == {A: end_of(date(2025, 3, 4)), B: end_of(date(2025, 3, 5))}


def test_deleting_every_interval_of_an_esiid_removes_its_row():
    normalize(date(2025, 3, 1), 2)
    SmtInterval.objects.filter(esiid=B).delete()
    assert newest() == {A: end_of(date(2025, 3, 2))}


def test_updates_that_move_the_newest_rows_back_or_to_another_esiid_are_followed():
    normalize(date(2025, 3, 1), 3)
    day3 = datetime(2025, 3, 3, tzinfo=CENTRAL)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE smt_interval SET kwh = kwh + 1 WHERE esiid = %s", [A])  # a revision: ts kept
        assert newest()[A] == end_of(date(2025, 3, 3))
        cursor.execute("UPDATE smt_interval SET esiid = %s WHERE esiid = %s AND ts >= %s", [C, A, day3])
        cursor.execute("UPDATE smt_interval SET ts = ts - interval '3 days' WHERE esiid = %s AND ts >= %s", [B, day3])
    assert newest() == {A: end_of(date(2025, 3, 2)), B: end_of(date(2025, 3, 2)), C: end_of(date(2025, 3, 3))}


def test_truncating_the_intervals_empties_the_table():
    normalize(date(2025, 3, 1), 1)
    with connection.cursor() as cursor:
        cursor.execute(
            "SET CONSTRAINTS ALL IMMEDIATE"
        )  # the test transaction's deferred FK checks, else TRUNCATE refuses
        cursor.execute("TRUNCATE smt_interval")
    assert newest() == {}


def test_retention_dropping_whole_months_reads_the_newest_interval_again(settings):
    normalize(date(2025, 1, 1), 90, esiids=(A,))
    normalize(date(2025, 1, 5), 10, esiids=(B,))  # only in January: its whole history is dropped
    normalize(date(2025, 1, 1), 20, esiids=(C,))  # January and 1 to 9 February: dropped, then deleted
    settings.SMT_RETENTION_DAYS = (date(2025, 4, 15) - date(2025, 2, 10)).days  # keeps 10 February on
    with (
        connection.cursor() as cursor
    ):  # several files in one test transaction leave deferred FK checks, else DROP refuses
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    result = partitions.intervals_prune(now=datetime(2025, 4, 15, 12, tzinfo=CENTRAL))
    assert result["partitionsDropped"] == ["smt_interval_y2025m01"]
    assert newest() == {A: end_of(date(2025, 3, 31))}
