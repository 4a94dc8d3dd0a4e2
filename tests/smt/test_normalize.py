"""smt.normalize: stored interval files into SmtInterval rows, with their stats."""

from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.db.models import Sum

from smt import normalize
from smt.models import SmtInterval
from tests.conftest import SMT_SAMPLES
from tests.smt.conftest import INTERVAL_HEADER, day_file, store

pytestmark = pytest.mark.django_db


def test_sample_normalizes_to_hand_counted_rows_and_kwh():
    raw = store((SMT_SAMPLES / "portal-IntervalData-2025-11-02-fall-back.csv").read_bytes(), meter="M1")
    stats = normalize.raw_file_normalize(raw_file=raw)
    raw.refresh_from_db()
    assert raw.status == "normalized" and raw.kind == "interval"
    assert stats["intervalsInserted"] == 100 and stats["intervalsUpdated"] == 0
    assert stats["totalKwh"] == 52.788 and stats["generationKwh"] == 0
    assert stats["tsMin"] == "2025-11-02T05:00:00Z" and stats["tsMax"] == "2025-11-03T05:45:00Z"
    rows = SmtInterval.objects.filter(esiid="10443720000000002", meter="M1")
    assert rows.count() == 100
    assert rows.aggregate(total=Sum("kwh"))["total"] == Decimal("52.788")
    first = rows.order_by("ts").first()
    assert first.raw_file_id == raw.pk and first.row_number == 2 and first.quality == "actual"


def test_renormalizing_the_same_file_inserts_nothing():
    raw = store((SMT_SAMPLES / "portal-IntervalData-2025-12-14-estimated.csv").read_bytes())
    normalize.raw_file_normalize(raw_file=raw)
    again = normalize.raw_file_normalize(raw_file=raw)
    assert again["intervalsInserted"] == 0 and again["intervalsUpdated"] == 0 and again["duplicatesSkipped"] == 96
    assert SmtInterval.objects.filter(quality="estimated").count() == 16


def test_redelivery_with_other_formatting_and_same_revision_changes_nothing():
    portal = store((SMT_SAMPLES / "portal-IntervalData-2025-12-14-estimated.csv").read_bytes())
    email = store(
        (SMT_SAMPLES / "IntervalMeterUsage202512152104279823F4F9339E4024C89B21685CA1223B8AEEML.CSV").read_bytes()
    )
    normalize.raw_file_normalize(raw_file=portal)
    stats = normalize.raw_file_normalize(raw_file=email)
    assert stats["duplicatesSkipped"] == 96 and stats["intervalsInserted"] == 0
    assert set(SmtInterval.objects.values_list("raw_file_id", flat=True)) == {portal.pk}


@pytest.mark.parametrize("order", ["old-first", "new-first"])
def test_newer_revision_wins_whatever_the_arrival_order(order):
    old = store(day_file("0.100", "12/15/2025 07:38:23"), name="old.csv")
    new = store(day_file("0.200", "12/17/2025 9:00"), name="new.csv")
    first, second = (old, new) if order == "old-first" else (new, old)
    normalize.raw_file_normalize(raw_file=first)
    stats = normalize.raw_file_normalize(raw_file=second)
    assert stats["intervalsUpdated"] == (96 if order == "old-first" else 0)
    assert SmtInterval.objects.aggregate(total=Sum("kwh"))["total"] == Decimal("19.200")
    assert set(SmtInterval.objects.values_list("raw_file_id", flat=True)) == {new.pk}


def test_invalid_rows_are_reported_and_good_rows_stored():
    data = (
        day_file("0.100", "12/15/2025 07:38:23") + b"'123,12/14/2025,12/15/2025 07:38:23,00:00,00:15,1,A,Consumption\n"
    )
    raw = store(data)
    stats = normalize.raw_file_normalize(raw_file=raw)
    assert stats["intervalsInserted"] == 96
    assert stats["invalid"]["esiid"]["count"] == 1 and stats["invalid"]["esiid"]["rows"] == ["98"]


def test_file_without_valid_rows_fails_with_reason_and_keeps_raw_bytes():
    raw = store(INTERVAL_HEADER.encode() + b"'10443720000000002,99/99/2025,x,00:00,00:15,1,A,Consumption\n")
    stats = normalize.raw_file_normalize(raw_file=raw)
    raw.refresh_from_db()
    assert raw.status == "failed" and "no valid interval row" in raw.error and "line 2" in raw.error
    assert "error" in stats
    assert default_storage.exists(raw.storage_key)
    assert SmtInterval.objects.count() == 0


def test_dry_run_reports_counts_and_writes_nothing():
    raw = store((SMT_SAMPLES / "portal-IntervalData-2025-03-09-spring-forward.csv").read_bytes())
    stats = normalize.raw_file_normalize(raw_file=raw, dry_run=True)
    raw.refresh_from_db()
    assert stats["dryRun"] and stats["intervalsInserted"] == 92 and stats["dstGapRowsSkipped"] == 4
    assert SmtInterval.objects.count() == 0 and raw.status == "received"
