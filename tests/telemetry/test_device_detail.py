"""The device page (assignment history) and the assign form, from the device page or device health."""

from datetime import date

import pytest

from telemetry.models import Device, DeviceAssignment, Location
from tests.telemetry.conftest import feed, place

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def m1(db):
    """m1 in Lab (all its history), readings hourly from 1 March 11:30 Kolkata."""
    feed("m1", *[(m, m * 10) for m in range(0, 95 * 60 + 1, 60)])
    place("m1", Location.objects.create(name="Lab"))
    Location.objects.create(name="Hall")
    return Device.objects.get(name="m1")


def assign(client, device: Device, **data):
    return client.post(f"/telemetry/devices/{device.pk}/assign", data)


def test_staff_moves_a_device_from_a_day_and_the_device_page_shows_the_history(staff_client, m1):
    hall = Location.objects.get(name="Hall")
    response = assign(staff_client, m1, location=hall.pk, effective_from="2026-03-03", note="new term", back="device")
    assert response.status_code == 302 and response["Location"] == f"/telemetry/devices/{m1.pk}/"
    moved = DeviceAssignment.objects.get(effective_from=date(2026, 3, 3))
    assert (moved.location, moved.assigned_by, moved.note) == (hall, "user:staff", "new term")
    html = staff_client.get(response["Location"]).content.decode()
    assert "m1 is in Hall from 2026-03-03." in html and 'id="assignments"' in html
    rows = html.split('id="assignments"')[1].split("</table>")[0]
    assert rows.index("2026-03-03") < rows.index("all history") and "2026-03-02" in rows  # newest first; Lab to 2 March
    assert rows.count("user:staff") == 1 and "new term" in rows


def test_assign_from_device_health_without_a_day_moves_from_today(staff_client, m1):
    response = assign(staff_client, m1, location="")
    assert response.status_code == 302 and response["Location"] == "/telemetry/devices/"
    assert Device.objects.get(name="m1").location is None
    assert DeviceAssignment.objects.filter(location=None, effective_from__isnull=False).count() == 1
    html = staff_client.get("/telemetry/devices/").content.decode()
    assert f'href="/telemetry/devices/{m1.pk}/"' in html and 'name="effective_from"' in html and "hx-preserve" in html


@pytest.mark.parametrize(
    "data, message",
    [
        ({"location": "999"}, "Select a valid choice"),
        ({"location": "{hall}", "effective_from": "3 March"}, "Enter a valid date"),
        ({"location": "{lab}"}, "m1 is already in Lab"),
        ({"location": "{hall}", "effective_from": "2999-01-01"}, "is after today"),
    ],
)
def test_bad_input_gets_400_naming_the_problem_and_changes_nothing(staff_client, m1, data, message):
    ids = {"{hall}": str(Location.objects.get(name="Hall").pk), "{lab}": str(Location.objects.get(name="Lab").pk)}
    response = assign(staff_client, m1, **{k: ids.get(v, v) for k, v in data.items()})
    assert response.status_code == 400 and message in response.content.decode()
    assert 'id="assign-form"' in response.content.decode()  # the device page, with the form to correct
    assert DeviceAssignment.objects.count() == 1 and Device.objects.get(name="m1").location.name == "Lab"


def test_backdating_before_the_last_move_is_refused_on_the_page(staff_client, m1):
    place("m1", Location.objects.get(name="Hall"), date(2026, 3, 3))
    response = assign(staff_client, m1, location=Location.objects.get(name="Lab").pk, effective_from="2026-03-02")
    assert response.status_code == 400
    assert "m1 is in Hall from 2026-03-03; a move cannot take effect before that day." in response.content.decode()
    assert DeviceAssignment.objects.count() == 2


def test_device_page_is_staff_only_and_get_only(client, staff_user, customer_user, m1):
    url = f"/telemetry/devices/{m1.pk}/"
    assert client.get(url).status_code == 302 and client.post(url + "assign", {"location": ""}).status_code == 302
    client.force_login(customer_user)
    assert client.get(url).status_code == 403 and client.post(url + "assign", {"location": ""}).status_code == 403
    client.force_login(staff_user)
    assert client.post(url).status_code == 405 and client.get(url + "assign").status_code == 405
    assert client.get("/telemetry/devices/999999/").status_code == 404
    assert DeviceAssignment.objects.count() == 1


def test_location_page_lists_devices_that_were_there_with_moved_in_and_out(staff_client, m1):
    lab, hall = Location.objects.get(name="Lab"), Location.objects.get(name="Hall")
    place("m1", hall, date(2026, 3, 3))
    range_ = "start=2026-03-01&end=2026-03-04"
    old = staff_client.get(f"/telemetry/locations/{lab.pk}/?{range_}&day=2026-03-02").content.decode()
    assert (
        "moved out" in old and "moved in" not in old and 'id="range-kwh">21.900<' in old and 'class="timeline"' in old
    )
    new = staff_client.get(f"/telemetry/locations/{hall.pk}/?{range_}&day=2026-03-02").content.decode()
    assert (
        "moved in" in new and 'id="range-kwh">28.800<' in new and "No devices were assigned here on 2026-03-02." in new
    )
    fragment = staff_client.get(f"/telemetry/locations/{hall.pk}/?{range_}", **HX).content.decode()
    assert fragment.lstrip().startswith('<div id="location-charts"') and 'id="stays"' in fragment
