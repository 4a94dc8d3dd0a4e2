"""POST /api/power-analytics/telemetry reads each device's counter unit and zone, like the subscriber."""

import json
from datetime import UTC, datetime

from telemetry.models import Device, RawEvent

URL = "/api/power-analytics/telemetry"
ADMIN = {"HTTP_X_ADMIN_TOKEN": "test-admin-token"}


def post(client, body) -> object:
    return client.post(URL, json.dumps(body), content_type="application/json", **ADMIN)


def test_kwh_totals_and_a_kwh_devices_counter_are_stored_as_exact_wh_at_the_devices_zone(client, db):
    Device.objects.create(name="tas-1", time_zone="America/Chicago", counter_unit="kWh")
    response = post(
        client,
        [
            {"device": "tas-1", "energy_wh_total": 14.834, "ts": "2026-03-01T00:00:00"},
            {"device": "esp-2", "energy_kwh_total": 0.5, "ts": "2026-03-01T11:30:00"},
        ],
    )
    assert response.status_code == 200, response.content
    assert set(RawEvent.objects.values_list("device__name", "energy_wh", "ts")) == {
        ("tas-1", 14834, datetime(2026, 3, 1, 6, 0, tzinfo=UTC)),  # Chicago midnight
        ("esp-2", 500, datetime(2026, 3, 1, 6, 0, tzinfo=UTC)),  # TELEMETRY_TIME_ZONE, Kolkata
    }


def test_a_fractional_wh_counter_gets_422_naming_energy_kwh_total_and_nothing_is_stored(client, db):
    response = post(client, {"device": "tas-2", "energy_wh_total": 14.834})
    assert response.status_code == 422
    assert (
        "readings[0]: energy_wh_total must be whole Wh, got 14.834: a kWh counter goes in energy_kwh_total"
        in response.json()["error"]
    )
    assert not RawEvent.objects.exists()
