import pytest
from django.db.models import Sum

from telemetry.demo import DEVICES, telemetry_demo_load
from telemetry.models import CostVersion, DailyTotal, Device, LedgerEntry

pytestmark = pytest.mark.django_db


def test_demo_telemetry_goes_through_the_ledger_and_loads_once():
    result = telemetry_demo_load(days=5)
    assert result["loaded"] and result["readings"] > 5 * 3 * 280
    assert set(Device.objects.values_list("name", flat=True)) == set(DEVICES)
    assert Device.objects.get(name="lib-1").status == "offline" and Device.objects.get(name="lab-1").status == "online"
    # lab-2 moved to the Library 3 days ago: the Physics lab keeps its earlier days.
    lab2 = Device.objects.get(name="lab-2")
    assert lab2.location.name == "Library" and [s.assignment.location.name for s in lab2.stays()] == [
        "Physics lab",
        "Library",
    ]
    moved_on = lab2.stays()[1].first
    assert (
        DailyTotal.objects.at_location(lab2.stays()[0].assignment.location)
        .filter(device=lab2)
        .exclude(day__lt=moved_on)
        .count()
        == 0
    )
    assert DailyTotal.objects.at_location(lab2.location).filter(device=lab2, day__lt=moved_on).count() == 0
    current = LedgerEntry.objects.filter(superseded_by__isnull=True)
    assert current.filter(device__name="lab-2", kind="reset").count() == 1  # the reboot
    assert current.filter(device__name="lib-1", kind="gap").count() == 1  # the silent hour
    # Daily totals add up to the ledger, to the Wh, and carry a cost from the two prices.
    assert DailyTotal.objects.aggregate(s=Sum("wh"))["s"] == current.aggregate(s=Sum("delta_wh"))["s"]
    assert CostVersion.objects.count() == 2 and DailyTotal.objects.filter(cost__gt=0).exists()
    assert telemetry_demo_load(days=5) == {"loaded": False, "devices": 3}
