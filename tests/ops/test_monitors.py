"""Each monitor kind goes late, down and up with data made to match; changes are recorded once."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from ops import monitors, registry
from ops.models import Delivery, JobRun, Monitor, MonitorEvent
from smt.models import House, RawSmtFile, SmtInterval
from smt.monitors import smt_newest_epochs, smt_newest_intervals, smt_newest_intervals_plain
from telemetry.models import Device, ReviewTicket
from tests.ops.conftest import state

pytestmark = pytest.mark.django_db
ESIID = "10443720000000001"


def interval(esiid: str, ts) -> SmtInterval:
    return SmtInterval.objects.create(
        esiid=esiid, channel="consumption", ts=ts, kwh=Decimal("0.5"), quality="actual", row_number=2
    )


def test_smt_meter_data_goes_late_then_down_then_up_when_intervals_arrive(check, settings):
    interval(ESIID, timezone.now() - timedelta(hours=1))
    assert check("smt-data") == [] and state("smt-data", ESIID) == "up"
    [late] = check("smt-data", hours=50)
    assert (late.previous, late.state) == ("up", "late")
    assert "newest interval" in late.evidence and "threshold 48 h" in late.evidence and "h ago" in late.evidence
    [down] = check("smt-data", hours=73)
    assert down.state == "down"
    interval(ESIID, timezone.now() + timedelta(hours=72))
    [up] = check("smt-data", hours=73)
    assert (up.previous, up.state) == ("down", "up")


def test_a_house_without_any_intervals_goes_late_after_the_threshold(check, customer_user):
    House.objects.create(customer=customer_user, name="Oak St", esiid=ESIID)
    assert check("smt-data") == []
    [late] = check("smt-data", hours=49)
    assert late.state == "late" and "no intervals stored since the house was added" in late.evidence


def test_the_fast_newest_interval_query_agrees_with_the_plain_one():
    for n, esiid in enumerate(["10443720000000001", "10443720000000002", "10443720000000003"]):
        interval(esiid, timezone.now() - timedelta(hours=n))
        interval(esiid, timezone.now() - timedelta(days=40 + n))
    assert connection.vendor == "postgresql"
    assert smt_newest_intervals() == smt_newest_intervals_plain()
    epochs = {esiid: pytest.approx(ts.timestamp(), abs=1e-6) for esiid, ts in smt_newest_intervals_plain().items()}
    assert smt_newest_epochs() == epochs


def test_evidence_is_built_only_for_new_monitors_and_changes_of_state(check, monkeypatch):
    for n in range(20):
        interval(f"104437200000001{n:02d}", timezone.now() - timedelta(hours=1))
    interval(ESIID, timezone.now() - timedelta(hours=40))
    plain, described = registry.KINDS["smt-data"], []

    def counting(**kwargs):
        found = plain.evaluate(**kwargs)
        return registry.States(found.states, lambda key: described.append(key) or found.describe(key))

    monkeypatch.setitem(registry.KINDS, "smt-data", registry.Kind(counting, plain.cleared))
    assert check("smt-data") == [] and len(described) == 21  # the subject names of the new monitors
    described.clear()
    assert check("smt-data") == [] and described == []  # 21 unchanged monitors: no text at all
    [late] = check("smt-data", hours=10)
    assert described == [ESIID] and late.evidence.startswith("newest interval ")


def test_a_second_check_records_and_sends_nothing_new(check, settings):
    settings.ALERT_WEBHOOK_URLS = ["http://127.0.0.1:9/hook"]
    interval(ESIID, timezone.now() - timedelta(hours=60))
    assert len(check("smt-data")) == 1
    assert check("smt-data") == []
    assert MonitorEvent.objects.count() == 1 and Delivery.objects.count() == 1


def test_a_failed_file_is_down_until_it_is_deleted(check):
    raw = RawSmtFile.objects.create(
        filename="bad.csv", sha256="a" * 64, size_bytes=1, storage_key="k", status="failed", error="row 2: no ESIID"
    )
    [down] = check("smt-file")
    assert down.state == "down" and "row 2: no ESIID" in down.evidence
    raw.delete()
    [up] = check("smt-file")
    assert up.state == "up" and "normalized or deleted" in up.evidence


def test_the_sftp_mirror_goes_late_down_and_up(check, settings):
    settings.SMT_HOST = "sftp.example.com"
    JobRun.objects.create(kind="mirror", trigger="schedule", status="succeeded", finished_at=timezone.now())
    assert check("smt-mirror") == []
    assert check("smt-mirror", minutes=100)[0].state == "late"
    assert check("smt-mirror", minutes=200)[0].state == "down"
    JobRun.objects.create(
        kind="mirror", trigger="schedule", status="succeeded", finished_at=timezone.now() + timedelta(minutes=199)
    )
    assert check("smt-mirror", minutes=200)[0].state == "up"


def test_three_failed_mirror_runs_in_a_row_are_down(check, settings):
    settings.SMT_HOST = "sftp.example.com"
    JobRun.objects.create(kind="mirror", trigger="schedule", status="succeeded", finished_at=timezone.now())
    for _ in range(3):
        JobRun.objects.create(kind="mirror", trigger="schedule", status="failed", finished_at=timezone.now())
    [down] = check("smt-mirror")
    assert down.state == "down" and "last 3 mirror runs failed" in down.evidence


def test_a_failed_ercot_fetch_is_down_and_a_good_one_brings_it_up(check):
    JobRun.objects.create(kind="ercot-fetch", trigger="schedule", status="partial", error="1 item(s) failed")
    assert check("ercot-fetch")[0].state == "late"
    JobRun.objects.create(kind="ercot-fetch", trigger="schedule", status="failed", error="ConnectionRefusedError")
    [down] = check("ercot-fetch")
    assert down.state == "down" and "ConnectionRefusedError" in down.evidence
    JobRun.objects.create(kind="ercot-fetch", trigger="schedule", status="succeeded")
    assert check("ercot-fetch")[0].state == "up"


def test_a_missing_ercot_daily_is_late_after_a_poll_and_down_after_three(check):
    from ercot.models import ErcotIngest

    today = timezone.localdate()
    ErcotIngest.objects.create(
        doc_id="1",
        filename="a.zip",
        method="mis",
        status="stored",
        tdsp="ONCOR",
        kind="DAILY",
        file_date=today - timedelta(days=1),
    )
    assert check("ercot-daily") == []
    JobRun.objects.create(kind="ercot-fetch", trigger="schedule", status="succeeded")
    assert check("ercot-daily")[0].state == "late"
    JobRun.objects.create(kind="ercot-fetch", trigger="schedule", status="succeeded")
    JobRun.objects.create(kind="ercot-fetch", trigger="schedule", status="succeeded")
    [down] = check("ercot-daily")
    assert down.state == "down" and f"DAILY for {today} still missing after 3 fetch run(s)" in down.evidence
    ErcotIngest.objects.create(
        doc_id="2", filename="b.zip", method="mis", status="stored", tdsp="ONCOR", kind="DAILY", file_date=today
    )
    assert check("ercot-daily")[0].state == "up"


def test_a_silent_device_goes_late_down_and_up_when_heard(check, settings):
    settings.TELEMETRY_SILENT_MINUTES = 15
    device = Device.objects.create(name="esp-1", last_seen_at=timezone.now())
    assert check("device") == []
    assert check("device", minutes=20)[0].state == "late"
    assert check("device", minutes=61)[0].state == "down"
    Device.objects.filter(pk=device.pk).update(last_seen_at=timezone.now() + timedelta(minutes=60))
    assert check("device", minutes=61)[0].state == "up"


def test_the_subscriber_goes_late_when_no_message_arrives(check, settings):
    settings.MQTT_URL = "mqtt://127.0.0.1:1883"
    Device.objects.create(name="esp-1", last_seen_at=timezone.now())
    assert check("subscriber") == []
    assert check("subscriber", minutes=11)[0].state == "late"
    assert check("subscriber", minutes=31)[0].state == "down"
    Device.objects.update(last_seen_at=timezone.now() + timedelta(minutes=31))
    assert check("subscriber", minutes=31)[0].state == "up"


def test_open_tickets_are_late_then_down_and_up_when_resolved(check):
    ticket = ReviewTicket.objects.create(kind="silent_device")
    assert check("tickets")[0].state == "late"
    assert check("tickets", hours=25)[0].state == "down"
    ReviewTicket.objects.filter(pk=ticket.pk).update(status="resolved")
    assert check("tickets", hours=25)[0].state == "up"


def test_workers_are_down_when_a_queued_task_waits(check, settings, monkeypatch):
    from django_q.conf import Conf
    from django_q.tasks import async_task

    monkeypatch.setattr(Conf, "SYNC", False)  # queue it for real: nobody runs the cluster here
    async_task("math.floor", 1.5)
    assert check("workers") == []
    assert check("workers", minutes=11)[0].state == "late"
    assert check("workers", minutes=31)[0].state == "down"


def test_pause_silences_and_resume_evaluates_again(check, settings, staff_user):
    settings.ALERT_WEBHOOK_URLS = ["http://127.0.0.1:9/hook"]
    interval(ESIID, timezone.now() - timedelta(hours=60))
    check("smt-data")
    monitor = Monitor.objects.get(kind="smt-data", key=ESIID)
    assert monitors.monitor_pause(monitor=monitor, reason="meter replaced", actor="user:staff")
    assert check("smt-data", hours=20) == []  # would be down, but paused
    monitor.refresh_from_db()
    assert monitor.state == "paused" and monitor.paused_reason == "meter replaced"
    event = monitors.monitor_resume(monitor=monitor, reason="done", actor="user:staff")
    assert (event.previous, event.state) == ("paused", "late") and event.deliveries.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_checks_record_one_change_and_one_notification(settings, monkeypatch):
    settings.ALERT_WEBHOOK_URLS = ["http://127.0.0.1:9/hook"]
    interval(ESIID, timezone.now() - timedelta(hours=1))
    monitors.monitors_check(kinds=["smt-data"])
    SmtInterval.objects.all().delete()
    interval(ESIID, timezone.now() - timedelta(hours=60))
    both_evaluated = threading.Barrier(2, timeout=20)
    plain = registry.KINDS["smt-data"]

    def evaluate_then_wait(**kwargs):
        found = plain.evaluate(**kwargs)
        both_evaluated.wait()  # both have read "up" and seen "late" before either writes
        return found

    monkeypatch.setitem(registry.KINDS, "smt-data", registry.Kind(evaluate_then_wait, plain.cleared))
    monkeypatch.setattr("ops.alerts.async_task", lambda *args: None)
    results = []

    def run():
        try:
            results.append(monitors.monitors_check(kinds=["smt-data"]).changed)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    assert sorted(len(changed) for changed in results) == [0, 1]
    assert MonitorEvent.objects.filter(state="late").count() == 1
    assert Delivery.objects.count() == 1
