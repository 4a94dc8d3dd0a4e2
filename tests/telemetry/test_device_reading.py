"""The device page's "how its messages are read" form: time zone and counter unit, then used by ingest."""

import json
from datetime import UTC, datetime

from telemetry import ingest
from telemetry.models import Device, RawEvent

AT = datetime(2026, 3, 1, 18, 0, tzinfo=UTC)


def post(client, device: Device, **data):
    return client.post(f"/telemetry/devices/{device.pk}/reading", data)


def native(device: str, **fields) -> tuple[str, bytes, datetime]:
    return f"autovolt/{device}/telemetry", json.dumps(fields).encode(), AT


def test_staff_sets_a_devices_zone_and_kwh_counter_and_its_next_messages_are_read_with_them(staff_client, db):
    device = Device.objects.create(name="plug-1")
    response = post(staff_client, device, time_zone="America/Chicago", counter_unit="kWh")
    assert response.status_code == 302 and response["Location"] == f"/telemetry/devices/{device.pk}/"
    html = staff_client.get(response["Location"]).content.decode()
    assert "plug-1: times without an offset read in America/Chicago, its counter in kWh." in html
    assert 'id="reading-form"' in html and 'value="America/Chicago"' in html
    ingest.messages_record([native("plug-1", energy_wh_total=14.834, ts="2026-03-01T11:00:00")])
    event = RawEvent.objects.get()
    assert (event.energy_wh, event.ts) == (14834, datetime(2026, 3, 1, 17, 0, tzinfo=UTC))  # 11:00 CST is 17:00 UTC


def test_an_unknown_zone_gets_400_naming_it_and_changes_nothing(staff_client, db):
    device = Device.objects.create(name="plug-2", time_zone="Europe/Berlin")
    response = post(staff_client, device, time_zone="Mars/Olympus", counter_unit="kWh")
    assert response.status_code == 400
    assert "&#x27;Mars/Olympus&#x27; is not an IANA time zone" in response.content.decode()
    device.refresh_from_db()
    assert (device.time_zone, device.counter_unit) == ("Europe/Berlin", "Wh")


def test_an_unknown_counter_unit_gets_400_and_changes_nothing(staff_client, db):
    device = Device.objects.create(name="plug-3")
    response = post(staff_client, device, time_zone="", counter_unit="MWh")
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert Device.objects.get(pk=device.pk).counter_unit == "Wh"


def test_a_customer_gets_403_and_nothing_changes(customer_client, db):
    device = Device.objects.create(name="plug-4")
    assert post(customer_client, device, time_zone="UTC", counter_unit="kWh").status_code == 403
    assert Device.objects.get(pk=device.pk).time_zone == ""


def test_get_is_not_allowed(staff_client, db):
    device = Device.objects.create(name="plug-5")
    assert staff_client.get(f"/telemetry/devices/{device.pk}/reading").status_code == 405
