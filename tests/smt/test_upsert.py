"""smt.upsert: the direct COPY for new data and its fall-back to the staging upsert's revision rule."""

from decimal import Decimal

import pytest

from smt import normalize, upsert
from smt.models import SmtInterval
from tests.smt.conftest import day_file, store

pytestmark = pytest.mark.django_db


def test_new_data_takes_the_direct_copy_with_the_same_stats_and_values(monkeypatch):
    staged = []
    monkeypatch.setattr(upsert, "_stage_upsert", lambda *a, **k: staged.append(1) or pytest.fail("staged new data"))
    raw = store(day_file("0.125", "12/15/2025 07:12:44"), meter="tab\tmeter\\x")
    stats = normalize.raw_file_normalize(raw_file=raw)
    assert stats["intervalsInserted"] == 96 and stats["duplicatesSkipped"] == 0 and not staged
    row = SmtInterval.objects.get(ts="2025-12-14T06:00:00Z")
    assert row.meter == "tab\tmeter\\x" and row.kwh == Decimal("0.125") and row.row_number == 2
    assert row.revised_at.isoformat() == "2025-12-15T13:12:44+00:00" and row.raw_file_id == raw.pk


def test_overlap_after_the_peeked_rows_falls_back_to_the_revision_rule(monkeypatch):
    """The first rows look new, a later one is stored with a newer revision: the direct COPY
    aborts to its savepoint and the staging upsert keeps the newer value."""
    monkeypatch.setattr(upsert, "PEEK_ROWS", 10)
    newer = store(day_file("0.900", "12/20/2025 07:00:00"), meter="M1")
    normalize.raw_file_normalize(raw_file=newer)
    SmtInterval.objects.filter(ts__lt="2025-12-14T12:00:00Z").delete()  # the file's first 24 rows become new
    older = store(day_file("0.100", "12/15/2025 07:00:00"), meter="M1")
    stats = normalize.raw_file_normalize(raw_file=older)
    assert stats["intervalsInserted"] == 24 and stats["intervalsUpdated"] == 0 and stats["duplicatesSkipped"] == 72
    assert stats["totalKwh"] == 9.6 and stats["validRows"] == 96  # counted once, not once per pass
    assert SmtInterval.objects.filter(kwh=Decimal("0.900")).count() == 72
    assert SmtInterval.objects.filter(kwh=Decimal("0.100"), raw_file=older).count() == 24


def test_a_key_twice_in_a_new_file_keeps_the_newest_revision():
    first = day_file("0.100", "12/15/2025 07:00:00").decode()
    second = day_file("0.300", "12/16/2025 07:00:00").decode().split("\n", 1)[1]
    stats = normalize.raw_file_normalize(raw_file=store((first + second).encode(), meter="M1"))
    assert stats["intervalsInserted"] == 96 and stats["duplicatesInFile"] == 96
    assert set(SmtInterval.objects.values_list("kwh", flat=True)) == {Decimal("0.300")}
