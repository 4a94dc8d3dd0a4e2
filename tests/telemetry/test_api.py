"""The /api/power-analytics/ contracts."""

import json
from datetime import date
from decimal import Decimal

import pytest

from telemetry.models import CostVersion, DailyTotal, Device, Location, RawEvent
from tests.telemetry.conftest import feed, place

ADMIN = {"HTTP_X_ADMIN_TOKEN": "test-admin-token"}


def post(client, url, body, **headers):
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


@pytest.fixture
def room(db):
    location = Location.objects.create(name="Room 101")
    feed("m1", (0, 0, {"power_w": 100}), (60, 1000), (120, 2500))
    place("m1", location)
    return location


def test_admin_token_posts_a_list_and_unknown_devices_are_registered_unassigned(client, db):
    body = [
        {"device": "lab-1", "energy_wh_total": 10, "ts": "2026-03-01T06:00:00Z"},
        {"device": "lab-1", "energy_wh_total": 25, "ts": "2026-03-01T06:01:00Z", "power_w": 900},
    ]
    response = post(client, "/api/power-analytics/telemetry", body, **ADMIN)
    assert response.status_code == 200, response.content
    assert response.json() == {"ok": True, "stored": 2, "duplicates": 0, "devices_registered": ["lab-1"]}
    assert Device.objects.get(name="lab-1").location is None
    assert post(client, "/api/power-analytics/telemetry", body, **ADMIN).json()["duplicates"] == 2


def test_device_token_posts_only_for_its_own_device(client, db):
    device = Device.objects.create(name="esp-7")
    token = device.token_issue()
    reading = {"device": "esp-7", "energy_wh_total": 5}
    assert post(client, "/api/power-analytics/telemetry", reading, HTTP_X_DEVICE_TOKEN=token).status_code == 200
    other = {"device": "esp-8", "energy_wh_total": 5}
    assert post(client, "/api/power-analytics/telemetry", other, HTTP_X_DEVICE_TOKEN=token).status_code == 401
    assert post(client, "/api/power-analytics/telemetry", reading, HTTP_X_DEVICE_TOKEN="wrong").status_code == 401
    assert post(client, "/api/power-analytics/telemetry", reading).status_code == 401
    assert RawEvent.objects.count() == 1


def test_bad_reading_names_its_index_and_stores_nothing(client, db):
    body = [{"device": "a", "energy_wh_total": 1}, {"device": "a", "energy_wh_total": "x"}]
    response = post(client, "/api/power-analytics/telemetry", body, **ADMIN)
    assert response.status_code == 422
    assert "readings[1]: energy_wh_total must be a number" in response.json()["error"]
    assert not RawEvent.objects.exists() and not Device.objects.exists()


def test_health_has_the_contract_fields(client, room):
    data = client.get("/api/power-analytics/health", **ADMIN).json()
    assert set(data) == {"status", "telemetry", "ledger", "aggregation", "timestamp"}
    assert data["telemetry"]["total_events"] == 3 and data["telemetry"]["unprocessed_events"] == 0
    assert data["ledger"]["entries_created"] == 2 and data["ledger"]["is_processing"] is False
    assert data["status"] == "ok"
    assert client.get("/api/power-analytics/health").status_code == 401


def test_summary_and_timeline_for_a_classroom(client, room):
    data = client.get("/api/power-analytics/summary?classroom=Room 101&date=2026-03-01", **ADMIN).json()
    assert data["total_kwh"] == "2.5" and data["devices"][0]["device"] == "m1" and data["timezone"] == "Asia/Kolkata"
    data = client.get(
        "/api/power-analytics/timeline?classroom=Room 101&start=2026-03-01T00:00:00Z&end=2026-03-02T00:00:00Z", **ADMIN
    ).json()
    assert [e["delta_wh"] for e in data["devices"][0]["entries"]] == [1000, 1500]
    assert data["devices"][0]["readings"][0]["power_w"] == 100
    assert client.get("/api/power-analytics/summary?classroom=Nope", **ADMIN).status_code == 404
    bad = client.get(
        "/api/power-analytics/timeline?classroom=Room 101&start=2026-03-02T00:00:00Z&end=2026-03-01T00:00:00Z", **ADMIN
    )
    assert bad.status_code == 422


def test_cost_version_post_recalculates_and_get_lists(client, room):
    response = post(
        client,
        "/api/power-analytics/cost-versions",
        {"cost_per_kwh": "0.25", "effective_from": "2026-01-01T00:00:00+05:30", "notes": "tariff"},
        **ADMIN,
    )
    assert response.status_code == 200, response.content
    changed = response.json()["recalculation"]["days_changed"]
    assert [(c["day"], c["new_kwh"], Decimal(c["old_cost"]), Decimal(c["new_cost"])) for c in changed] == [
        ("2026-03-01", "2.5", Decimal(0), Decimal("0.625"))
    ]
    assert CostVersion.objects.get().created_by == "token:admin"
    listed = client.get("/api/power-analytics/cost-versions", **ADMIN).json()["versions"]
    assert listed[0]["cost_per_kwh"] == "0.250000"
    assert (
        post(
            client,
            "/api/power-analytics/cost-versions",
            {"cost_per_kwh": "-1", "effective_from": "2026-01-01T00:00:00Z"},
            **ADMIN,
        ).status_code
        == 422
    )


def test_recalculate_rebuilds_a_classroom_range(client, room):
    DailyTotal.objects.update(wh=7)
    response = post(
        client,
        "/api/power-analytics/recalculate",
        {"classroom": "Room 101", "start": "2026-03-01", "end": "2026-03-01"},
        **ADMIN,
    )
    assert response.status_code == 200
    assert DailyTotal.objects.get(day=date(2026, 3, 1)).wh == 2500
    assert response.json()["days_changed"][0]["new_kwh"] == "2.5"


def test_names_and_text_with_quotes_backslashes_and_braces_are_stored_exactly(client, db):
    name = 'lab "A", {x}\\y'
    body = [{"device": name, "energy_wh_total": 1, "boot_id": 'b"1\\', "switch_state": "{on,", "seq": 7}]
    response = post(client, "/api/power-analytics/telemetry", body, **ADMIN)
    assert response.status_code == 200, response.content
    event = RawEvent.objects.get()
    assert (event.device.name, event.boot_id, event.switch_state) == (name, 'b"1\\', "{on,")
    assert post(client, "/api/power-analytics/telemetry", body, **ADMIN).json()["duplicates"] == 1  # same seq and boot
    assert Device.objects.get().name == name


@pytest.fixture
def moved(db):
    """m2 reads hourly (600 Wh an hour) from 1 March 11:30 Kolkata; in Room 101, then Room 102 from 3 March."""
    feed("m2", *[(m, m * 10) for m in range(0, 95 * 60 + 1, 60)])
    first, second = Location.objects.create(name="Room 101"), Location.objects.create(name="Room 102")
    place("m2", first)
    place("m2", second, date(2026, 3, 3))
    return first, second


def test_summary_and_timeline_follow_where_the_device_was(client, moved):
    summary = lambda room, day: client.get(f"/api/power-analytics/summary?classroom={room}&date={day}", **ADMIN).json()  # noqa: E731
    assert (
        summary("Room 101", "2026-03-02")["total_kwh"] == "14.4" and summary("Room 101", "2026-03-03")["devices"] == []
    )
    assert (
        summary("Room 102", "2026-03-02")["devices"] == [] and summary("Room 102", "2026-03-03")["total_kwh"] == "14.4"
    )
    window = "start=2026-03-02T00:00:00&end=2026-03-04T00:00:00"  # local times
    old = client.get(f"/api/power-analytics/timeline?classroom=Room 101&{window}", **ADMIN).json()["devices"]
    new = client.get(f"/api/power-analytics/timeline?classroom=Room 102&{window}", **ADMIN).json()["devices"]
    assert [(d["device"], d["from"], d["until"]) for d in old] == [
        ("m2", "2026-03-02T00:00:00+05:30", "2026-03-03T00:00:00+05:30")
    ]
    assert [(d["device"], d["from"], d["until"]) for d in new] == [
        ("m2", "2026-03-03T00:00:00+05:30", "2026-03-04T00:00:00+05:30")
    ]
    assert len(old[0]["readings"]) == len(new[0]["readings"]) == 24
    assert all(r["ts"] < "2026-03-02T18:30" for r in old[0]["readings"])


def test_recalculate_rebuilds_only_the_days_the_devices_were_in_the_classroom(client, moved):
    DailyTotal.objects.update(wh=7)
    body = {"classroom": "Room 101", "start": "2026-03-01", "end": "2026-03-04"}
    response = post(client, "/api/power-analytics/recalculate", body, **ADMIN)
    assert response.status_code == 200, response.content
    assert [d["day"] for d in response.json()["days_changed"]] == ["2026-03-01", "2026-03-02"]
    stored = dict(DailyTotal.objects.values_list("day", "wh"))
    assert [stored[date(2026, 3, d)] for d in (1, 2, 3, 4)] == [7500, 14400, 7, 7]  # Room 102's days untouched
    post(client, "/api/power-analytics/recalculate", {**body, "classroom": "Room 102"}, **ADMIN)
    assert DailyTotal.objects.get(day=date(2026, 3, 3)).wh == 14400
