"""Read-side queries: the location page's per-device day timelines (telemetry/reports.py)."""

from datetime import date, timedelta

from telemetry import reports
from telemetry.models import Device, LedgerEntry
from tests.telemetry.conftest import T0, feed


def test_a_day_timeline_sums_the_current_ledger_with_each_readings_power(db):
    # T0 is 11:30 in Kolkata on 2026-03-01; the reading 15 hours on falls on the next local day.
    feed("m1", (0, 0, {"power_w": 600}), (60, 600, {"power_w": 700}), (120, 1300), (900, 1400, {"power_w": 5}))
    feed("m2", (0, 50))
    [m1, m2] = Device.objects.order_by("name")

    [one, quiet] = reports.device_day_timelines(devices=[m1, m2], day=date(2026, 3, 1))

    assert (one.device, one.readings, one.kwh) == (m1, 3, 1.3)
    assert one.points == [(T0 + timedelta(minutes=60), 700, 0.6), (T0 + timedelta(minutes=120), None, 1.3)]
    assert (quiet.device, quiet.readings, quiet.points, quiet.kwh) == (m2, 1, [], 0)
    assert LedgerEntry.objects.current().filter(device=m1).count() == 3  # the next day's entry is left out above
