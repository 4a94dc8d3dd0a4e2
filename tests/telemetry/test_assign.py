"""telemetry/assign.py: effective-dated device assignments, and location totals that follow them."""

import importlib
from datetime import date

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError

from telemetry import reports
from telemetry.models import Device, DeviceAssignment, Location
from tests.telemetry.conftest import feed, place

pytestmark = pytest.mark.django_db
MAR = lambda d: date(2026, 3, d)  # noqa: E731


@pytest.fixture
def rooms():
    """m1 reads hourly, 600 Wh an hour, from 1 March 11:30 to 5 March 10:30 (Kolkata)."""
    feed("m1", *[(m, m * 10) for m in range(0, 95 * 60 + 1, 60)])
    return Location.objects.create(name="A"), Location.objects.create(name="B")


def kwh(location: Location, day: date) -> str:
    return reports.location_summary(location=location, day=day)["total_kwh"]


def test_first_assignment_covers_all_history_whatever_day_is_given(rooms):
    a, _ = rooms
    assert Device.objects.get(name="m1").location is None  # registered unassigned
    assignment = place("m1", a, MAR(4))
    assert assignment.effective_from is None and Device.objects.get(name="m1").location == a
    assert [kwh(a, MAR(d)) for d in (1, 2, 4)] == ["7.5", "14.4", "14.4"]


def test_moving_a_device_keeps_the_old_locations_past_days_and_puts_new_days_in_the_new_one(rooms):
    a, b = rooms
    place("m1", a)
    before = [reports.location_summary(location=a, day=MAR(d)) for d in (1, 2)]
    place("m1", b, MAR(3))
    assert [reports.location_summary(location=a, day=MAR(d)) for d in (1, 2)] == before
    assert (kwh(a, MAR(3)), kwh(b, MAR(3)), kwh(b, MAR(2))) == ("0", "14.4", "0")
    assert Device.objects.get(name="m1").location == b
    rows = reports.daily_rows(location=a, first=MAR(1), last=MAR(4))
    assert [r.wh for r in rows] == [7500, 14400, 0, 0]
    assert reports.location_wh_since(MAR(1)) == {a.pk: 7500 + 14400, b.pk: 14400 * 2 + 6300}  # 5 March ends 10:30


def test_moving_out_leaves_later_days_unassigned(rooms):
    a, _ = rooms
    place("m1", a)
    place("m1", None, MAR(2))
    assert (kwh(a, MAR(1)), kwh(a, MAR(2))) == ("7.5", "0")
    assert Device.objects.get(name="m1").location is None


def test_a_day_before_the_previous_assignments_day_is_refused_and_nothing_changes(rooms):
    a, b = rooms
    place("m1", a)
    place("m1", b, MAR(3))
    c = Location.objects.create(name="C")
    with pytest.raises(ValidationError, match=r"m1 is in B from 2026-03-03; a move cannot take effect before that day"):
        place("m1", c, MAR(2))
    assert list(DeviceAssignment.objects.values_list("location__name", "effective_from")) == [
        ("A", None),
        ("B", MAR(3)),
    ]
    assert Device.objects.get(name="m1").location == b


@pytest.mark.parametrize(
    "case, message",
    [
        ("future", "is after today"),
        ("same place", "m1 is already in A"),
        ("unassigned first", "m1 is not assigned yet"),
    ],
)
def test_assignments_that_change_nothing_or_lie_ahead_are_refused(rooms, case, message):
    a, _ = rooms
    if case != "unassigned first":
        place("m1", a)
    target, day = {"future": (rooms[1], date(2999, 1, 1)), "same place": (a, None), "unassigned first": (None, None)}[
        case
    ]
    with pytest.raises(ValidationError, match=message):
        place("m1", target, day)
    assert DeviceAssignment.objects.count() == (0 if case == "unassigned first" else 1)


def test_same_day_reassignment_replaces_that_days_move_and_undoes_it_when_back_where_it_was(rooms):
    a, b = rooms
    c = Location.objects.create(name="C")
    place("m1", a)
    place("m1", b, MAR(3))
    replaced = place("m1", c, MAR(3))
    assert list(DeviceAssignment.objects.values_list("location__name", "effective_from")) == [
        ("A", None),
        ("C", MAR(3)),
    ]
    assert replaced.assigned_by == "test" and kwh(c, MAR(3)) == "14.4" and kwh(b, MAR(3)) == "0"
    assert place("m1", a, MAR(3)).effective_from is None  # back in A: the move is gone
    assert DeviceAssignment.objects.count() == 1 and Device.objects.get(name="m1").location == a


def test_location_stays_mark_devices_moved_in_and_out_during_a_range(rooms):
    a, b = rooms
    place("m1", a)
    place("m1", b, MAR(3))
    [out] = a.stays(MAR(1), MAR(4))
    [into] = b.stays(MAR(1), MAR(4))
    assert (out.first, out.last, out.moved_out(MAR(4)), out.moved_in(MAR(1))) == (None, MAR(2), True, False)
    assert (into.first, into.last, into.moved_in(MAR(1)), into.clip(MAR(1), MAR(4))) == (
        MAR(3),
        None,
        True,
        (MAR(3), MAR(4)),
    )
    assert a.stays(MAR(3), MAR(4)) == [] and b.stays(MAR(1), MAR(2)) == []


def test_migration_gives_each_located_device_an_assignment_covering_its_history(db):
    room = Location.objects.create(name="A")
    Device.objects.create(name="placed", location=room)
    Device.objects.create(name="loose")
    migration = importlib.import_module("telemetry.migrations.0004_device_assignment")
    migration.current_locations_cover_history(apps, None)
    row = DeviceAssignment.objects.get()
    assert (row.device.name, row.location, row.effective_from, row.assigned_by) == ("placed", room, None, "migration")
