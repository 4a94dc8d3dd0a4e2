import io
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.db.models import Sum

from smt import ingest
from smt.models import RawSmtFile, SmtInterval
from tests.conftest import SMT_SAMPLES

pytestmark = pytest.mark.django_db
HEADER = "ESIID,USAGE_DATE,REVISION_DATE,USAGE_START_TIME,USAGE_END_TIME,USAGE_KWH,ESTIMATED_ACTUAL,CONSUMPTION_SURPLUSGENERATION\n"


def store(data: bytes, name: str = "IntervalData.csv", **hints) -> RawSmtFile:
    import hashlib

    return ingest.raw_file_store(
        fileobj=io.BytesIO(data), sha256=hashlib.sha256(data).hexdigest(), size=len(data), filename=name, origin="staff", **hints
    ).raw_file


def day_file(kwh: str, revision: str) -> bytes:
    rows = [f"'10443720000000002,12/14/2025,{revision},{q // 4:02d}:{q % 4 * 15:02d},00:00,{kwh},A,Consumption\n" for q in range(96)]
    return (HEADER + "".join(rows)).encode()


def test_sample_normalizes_to_hand_counted_rows_and_kwh():
    raw = store((SMT_SAMPLES / "portal-IntervalData-2025-11-02-fall-back.csv").read_bytes(), meter="M1")
    stats = ingest.raw_file_normalize(raw_file=raw)
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
    ingest.raw_file_normalize(raw_file=raw)
    again = ingest.raw_file_normalize(raw_file=raw)
    assert again["intervalsInserted"] == 0 and again["intervalsUpdated"] == 0 and again["duplicatesSkipped"] == 96
    assert SmtInterval.objects.filter(quality="estimated").count() == 16


def test_redelivery_with_other_formatting_and_same_revision_changes_nothing():
    portal = store((SMT_SAMPLES / "portal-IntervalData-2025-12-14-estimated.csv").read_bytes())
    email = store((SMT_SAMPLES / "IntervalMeterUsage202512152104279823F4F9339E4024C89B21685CA1223B8AEEML.CSV").read_bytes())
    ingest.raw_file_normalize(raw_file=portal)
    stats = ingest.raw_file_normalize(raw_file=email)
    assert stats["duplicatesSkipped"] == 96 and stats["intervalsInserted"] == 0
    assert set(SmtInterval.objects.values_list("raw_file_id", flat=True)) == {portal.pk}


@pytest.mark.parametrize("order", ["old-first", "new-first"])
def test_newer_revision_wins_whatever_the_arrival_order(order):
    old = store(day_file("0.100", "12/15/2025 07:38:23"), name="old.csv")
    new = store(day_file("0.200", "12/17/2025 9:00"), name="new.csv")
    first, second = (old, new) if order == "old-first" else (new, old)
    ingest.raw_file_normalize(raw_file=first)
    stats = ingest.raw_file_normalize(raw_file=second)
    assert stats["intervalsUpdated"] == (96 if order == "old-first" else 0)
    assert SmtInterval.objects.aggregate(total=Sum("kwh"))["total"] == Decimal("19.200")
    assert set(SmtInterval.objects.values_list("raw_file_id", flat=True)) == {new.pk}


def test_invalid_rows_are_reported_and_good_rows_stored():
    data = day_file("0.100", "12/15/2025 07:38:23") + b"'123,12/14/2025,12/15/2025 07:38:23,00:00,00:15,1,A,Consumption\n"
    raw = store(data)
    stats = ingest.raw_file_normalize(raw_file=raw)
    assert stats["intervalsInserted"] == 96
    assert stats["invalid"]["esiid"]["count"] == 1 and stats["invalid"]["esiid"]["rows"] == ["98"]


def test_file_without_valid_rows_fails_with_reason_and_keeps_raw_bytes():
    raw = store(HEADER.encode() + b"'10443720000000002,99/99/2025,x,00:00,00:15,1,A,Consumption\n")
    stats = ingest.raw_file_normalize(raw_file=raw)
    raw.refresh_from_db()
    assert raw.status == "failed" and "no valid interval row" in raw.error and "line 2" in raw.error
    assert "error" in stats
    assert default_storage.exists(raw.storage_key)
    assert SmtInterval.objects.count() == 0


def test_dry_run_reports_counts_and_writes_nothing():
    raw = store((SMT_SAMPLES / "portal-IntervalData-2025-03-09-spring-forward.csv").read_bytes())
    stats = ingest.raw_file_normalize(raw_file=raw, dry_run=True)
    raw.refresh_from_db()
    assert stats["dryRun"] and stats["intervalsInserted"] == 92 and stats["dstGapRowsSkipped"] == 4
    assert SmtInterval.objects.count() == 0 and raw.status == "received"


def test_storing_the_same_bytes_twice_keeps_one_file():
    data = (SMT_SAMPLES / "portal-IntervalData-2025-12-14-estimated.csv").read_bytes()
    first = store(data)
    import hashlib

    again = ingest.raw_file_store(fileobj=io.BytesIO(data), sha256=hashlib.sha256(data).hexdigest(), size=len(data), filename="x.csv", origin="staff")
    assert again.duplicate and again.raw_file.pk == first.pk and RawSmtFile.objects.count() == 1


def test_storage_key_never_trusts_the_file_name():
    key = ingest.raw_file_key(sha256="ab" * 32, filename="../../etc/passwd")
    assert key.startswith("smt/raw/") and ".." not in key and key.endswith("-passwd")
    assert ingest.safe_filename("..") == "upload.csv"
    assert ingest.safe_filename("C:\\Users\\x\\IntervalData (1).csv") == "IntervalData_1.csv"


def test_stranded_files_are_queued_again(settings):
    from datetime import timedelta

    from django.utils import timezone

    raw = store((SMT_SAMPLES / "portal-IntervalData-2025-12-14-estimated.csv").read_bytes())
    RawSmtFile.objects.filter(pk=raw.pk).update(status="normalizing", status_changed_at=timezone.now() - timedelta(hours=1))
    assert ingest.raw_files_requeue_stranded() == 1  # the sync q2 cluster of the tests runs it at once
    raw.refresh_from_db()
    assert raw.status == "normalized" and SmtInterval.objects.count() == 96


def test_new_data_takes_the_direct_copy_with_the_same_stats_and_values(monkeypatch):
    staged = []
    monkeypatch.setattr(ingest, "_stage_upsert", lambda *a, **k: staged.append(1) or pytest.fail("staged new data"))
    raw = store(day_file("0.125", "12/15/2025 07:12:44"), meter="tab\tmeter\\x")
    stats = ingest.raw_file_normalize(raw_file=raw)
    assert stats["intervalsInserted"] == 96 and stats["duplicatesSkipped"] == 0 and not staged
    row = SmtInterval.objects.get(ts="2025-12-14T06:00:00Z")
    assert row.meter == "tab\tmeter\\x" and row.kwh == Decimal("0.125") and row.row_number == 2
    assert row.revised_at.isoformat() == "2025-12-15T13:12:44+00:00" and row.raw_file_id == raw.pk


def test_overlap_after_the_peeked_rows_falls_back_to_the_revision_rule(monkeypatch):
    """The first rows look new, a later one is stored with a newer revision: the direct COPY
    aborts to its savepoint and the staging upsert keeps the newer value."""
    monkeypatch.setattr(ingest, "PEEK_ROWS", 10)
    newer = store(day_file("0.900", "12/20/2025 07:00:00"), meter="M1")
    ingest.raw_file_normalize(raw_file=newer)
    SmtInterval.objects.filter(ts__lt="2025-12-14T12:00:00Z").delete()  # the file's first 24 rows become new
    older = store(day_file("0.100", "12/15/2025 07:00:00"), meter="M1")
    stats = ingest.raw_file_normalize(raw_file=older)
    assert stats["intervalsInserted"] == 24 and stats["intervalsUpdated"] == 0 and stats["duplicatesSkipped"] == 72
    assert stats["totalKwh"] == 9.6 and stats["validRows"] == 96  # counted once, not once per pass
    assert SmtInterval.objects.filter(kwh=Decimal("0.900")).count() == 72
    assert SmtInterval.objects.filter(kwh=Decimal("0.100"), raw_file=older).count() == 24


def test_a_key_twice_in_a_new_file_keeps_the_newest_revision():
    first = day_file("0.100", "12/15/2025 07:00:00").decode()
    second = day_file("0.300", "12/16/2025 07:00:00").decode().split("\n", 1)[1]
    stats = ingest.raw_file_normalize(raw_file=store((first + second).encode(), meter="M1"))
    assert stats["intervalsInserted"] == 96 and stats["duplicatesInFile"] == 96
    assert set(SmtInterval.objects.values_list("kwh", flat=True)) == {Decimal("0.300")}
