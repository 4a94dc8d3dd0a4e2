"""smt.ingest: bundles and routing through `manage.py smt_ingest` (the same path as the mirror), and the re-queue."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ops.models import JobRun
from smt import ingest
from smt.models import RawSmtFile, SmtBillingRead, SmtInterval
from tests.conftest import SMT_SAMPLES
from tests.smt.conftest import DAILY_CSV, sample, store, zip_bytes

pytestmark = pytest.mark.django_db


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_smt_ingest_routes_interval_billing_and_bundles(tmp_path, keyring, capsys):
    paths = [
        write(tmp_path, "IntervalData.csv", sample("portal-IntervalData-2025-11-02-fall-back.csv")),
        write(tmp_path, "DailyMeterUsage1.csv", DAILY_CSV.encode()),
        write(
            tmp_path,
            "IntervalMeterUsage2CSV.55.asc",
            keyring.armor(
                zip_bytes({"a/IntervalMeterUsage.csv": sample("portal-IntervalData-2025-12-14-estimated.csv")})
            ),
        ),
    ]
    call_command("smt_ingest", *map(str, paths), "--source", "backfill", "--meter", "M7")
    out = capsys.readouterr().out
    assert "ingest run #" in out and "succeeded" in out
    assert SmtInterval.objects.filter(meter="M7").count() == 196
    assert SmtBillingRead.objects.filter(meter="M7").count() == 2
    member = RawSmtFile.objects.get(filename="a/IntervalMeterUsage.csv")
    assert member.parent.filename == "IntervalMeterUsage2CSV.55.asc" and member.source == "backfill"
    job = JobRun.objects.get()
    assert (
        job.kind == "ingest"
        and job.trigger == "command"
        and job.counts == {"ingested": 3, "intervalsInserted": 196, "billingReadsInserted": 2}
    )


def test_a_bare_csv_payload_becomes_one_member_named_after_the_bundle(tmp_path, keyring):
    path = write(tmp_path, "DailyMeterUsage20251216CSV.134642921.asc", keyring.armor(DAILY_CSV.encode()))
    call_command("smt_ingest", str(path))
    member = RawSmtFile.objects.get(parent__isnull=False)
    assert member.filename == "DailyMeterUsage20251216CSV" and member.kind == "billing"


def test_a_plain_csv_under_an_asc_name_is_read_as_csv(tmp_path):
    path = write(tmp_path, "IntervalMeterUsage.CSV.1.asc", sample("portal-IntervalData-2025-11-02-fall-back.csv"))
    call_command("smt_ingest", str(path))
    assert RawSmtFile.objects.get().kind == "interval" and SmtInterval.objects.count() == 100


@pytest.mark.parametrize(
    "members, reason",
    [
        ({"../escape.csv": b"ESIID\n"}, "unsafe path"),
        ({"/etc/cron.d/x.csv": b"ESIID\n"}, "unsafe path"),
        ({"bomb.csv": b"0" * 5_000_000}, "compression ratio"),
    ],
)
def test_unsafe_bundles_fail_and_store_no_member(tmp_path, keyring, members, reason):
    path = write(tmp_path, "IntervalMeterUsageCSV.9.asc", keyring.armor(zip_bytes(members)))
    with pytest.raises(CommandError, match="1 item"):
        call_command("smt_ingest", str(path))
    bundle = RawSmtFile.objects.get()
    assert bundle.status == "failed" and reason in bundle.error


def test_an_unrecognized_member_is_kept_and_reported_while_the_rest_go_on(tmp_path, keyring):
    path = write(
        tmp_path,
        "MixedCSV.3.asc",
        keyring.armor(
            zip_bytes(
                {
                    "MonthlyBilling.csv": b"PERIOD,TOTAL\n2025-11,1000\n",
                    "IntervalMeterUsage.csv": sample("portal-IntervalData-2025-11-02-fall-back.csv"),
                }
            )
        ),
    )
    with pytest.raises(CommandError):
        call_command("smt_ingest", str(path))
    unknown = RawSmtFile.objects.get(filename="MonthlyBilling.csv")
    assert unknown.status == "failed" and "neither interval nor billing" in unknown.error
    assert "columns found: 'PERIOD,TOTAL'" in unknown.error
    assert SmtInterval.objects.count() == 100
    bundle = RawSmtFile.objects.get(kind="bundle")
    assert bundle.status == "normalized" and bundle.stats["membersFailed"] == 1


def test_the_same_file_twice_is_ingested_once(tmp_path):
    path = write(tmp_path, "IntervalData.csv", sample("portal-IntervalData-2025-11-02-fall-back.csv"))
    call_command("smt_ingest", str(path))
    call_command("smt_ingest", str(path))
    assert JobRun.objects.first().counts == {"duplicates": 1}


def test_smt_ingest_refuses_a_bad_esiid_hint(tmp_path):
    with pytest.raises(CommandError, match="not a 17- or 22-digit ESIID"):
        call_command("smt_ingest", str(tmp_path / "x.csv"), "--esiid", "123")


def test_a_missing_path_fails_alone(tmp_path):
    good = write(tmp_path, "IntervalData.csv", sample("portal-IntervalData-2025-11-02-fall-back.csv"))
    with pytest.raises(CommandError):
        call_command("smt_ingest", str(tmp_path / "missing.csv"), str(good))
    assert JobRun.objects.get().counts == {"failed": 1, "ingested": 1, "intervalsInserted": 100}


def test_staff_upload_of_a_pgp_bundle_is_stored_and_expanded(staff_client, keyring):
    from django.core.files.uploadedfile import SimpleUploadedFile

    armored = keyring.armor(
        zip_bytes({"IntervalMeterUsage.csv": sample("portal-IntervalData-2025-11-02-fall-back.csv")})
    )
    response = staff_client.post("/upload", {"file": SimpleUploadedFile("IntervalMeterUsageCSV.12.asc", armored)})
    assert response.status_code == 201, response.content
    bundle = RawSmtFile.objects.get(pk=response.json()["rawId"])
    assert bundle.kind == "bundle" and bundle.status == "normalized"  # the queued task ran inline
    assert bundle.members.get().status == "normalized" and SmtInterval.objects.count() == 100
    assert bundle.origin == "staff" and bundle.members.get().origin == "member"


def test_an_armored_file_without_the_asc_name_is_refused_at_upload(staff_client, keyring):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = staff_client.post("/upload", {"file": SimpleUploadedFile("data.csv", keyring.armor(b"x"))})
    assert response.status_code == 422 and RawSmtFile.objects.count() == 0


def test_stranded_files_are_queued_again(settings):
    from datetime import timedelta

    from django.utils import timezone

    raw = store((SMT_SAMPLES / "portal-IntervalData-2025-12-14-estimated.csv").read_bytes())
    RawSmtFile.objects.filter(pk=raw.pk).update(
        status="normalizing", status_changed_at=timezone.now() - timedelta(hours=1)
    )
    assert ingest.raw_files_requeue_stranded() == 1  # the sync q2 cluster of the tests runs it at once
    raw.refresh_from_db()
    assert raw.status == "normalized" and SmtInterval.objects.count() == 96


def test_pending_files_are_the_received_and_normalizing_ones():
    files = {status: store(f"{status}\n".encode(), name=f"{status}.csv") for status in RawSmtFile.Status.values}
    for status, raw in files.items():
        raw.set_status(status)
    assert set(RawSmtFile.objects.pending()) == {files["received"], files["normalizing"]}
    assert [raw.pending for raw in files.values()] == [status in ("received", "normalizing") for status in files]
