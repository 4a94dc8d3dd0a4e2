"""Staff pages: device health, locations, cost versions, review tickets, malformed messages."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone as dj_timezone

from telemetry import ingest
from telemetry.models import CostVersion, DailyTotal, Device, Location, MalformedMessage, ReviewTicket
from tests.telemetry.conftest import feed, place

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def devices(db):
    now = dj_timezone.now()
    Device.objects.create(name="fresh", status="online", last_seen_at=now, last_heartbeat_at=now)
    Device.objects.create(name="quiet", status="offline", last_seen_at=now - timedelta(hours=2))


def test_device_health_highlights_silent_devices_and_refreshes_itself(staff_client, devices):
    response = staff_client.get("/telemetry/devices/")
    html = response.content.decode()
    assert response.status_code == 200 and "<nav" in html
    assert 'id="device-quiet" class="silent"' in html and 'id="device-fresh" class=""' in html
    assert 'hx-trigger="every 5s"' in html
    fragment = staff_client.get("/telemetry/devices/", **HX)
    assert fragment.content.decode().lstrip().startswith('<div id="device-health"')
    assert "HX-Request" in fragment["Vary"]
    assert staff_client.post("/telemetry/devices/").status_code == 405


def test_staff_assigns_an_unassigned_device_to_a_location(staff_client, devices):
    room = Location.objects.create(name="Lab")
    device = Device.objects.get(name="fresh")
    response = staff_client.post(f"/telemetry/devices/{device.pk}/assign", {"location": room.pk})
    assert response.status_code == 302
    assert Device.objects.get(name="fresh").location == room
    assert staff_client.post(f"/telemetry/devices/{device.pk}/assign", {"location": 999}).status_code == 400
    assert Device.objects.get(name="fresh").location == room


def test_device_token_is_shown_once_and_works(staff_client, devices):
    device = Device.objects.get(name="fresh")
    html = staff_client.post(f"/telemetry/devices/{device.pk}/token", **HX).content.decode()
    token = html.split('id="device-token">')[1].split("<")[0]
    device.refresh_from_db()
    assert device.token_matches(token) and token not in device.token_sha256


def test_locations_add_and_detail_shows_daily_and_timeline_charts(staff_client, db):
    assert staff_client.post("/telemetry/locations/", {"name": ""}).status_code == 400
    assert staff_client.post("/telemetry/locations/", {"name": "Room 7"}).status_code == 302
    room = Location.objects.get(name="Room 7")
    feed("m1", (0, 0, {"power_w": 600}), (60, 600, {"power_w": 700}), (120, 1300, {"power_w": 650}))
    place("m1", room)
    assert "Room 7" in staff_client.get("/telemetry/locations/").content.decode()
    html = staff_client.get(
        f"/telemetry/locations/{room.pk}/?start=2026-02-25&end=2026-03-01&day=2026-03-01"
    ).content.decode()
    assert 'class="bars"' in html and 'class="timeline"' in html and 'class="power"' in html
    assert 'id="range-kwh">1.300<' in html
    fragment = staff_client.get(f"/telemetry/locations/{room.pk}/?day=2026-03-01", **HX)
    assert fragment.content.decode().lstrip().startswith('<div id="location-charts"')


def test_cost_version_form_recalculates_and_shows_the_result(staff_client, db):
    feed("m1", (0, 0), (60, 2000))
    response = staff_client.post(
        "/telemetry/costs/", {"cost_per_kwh": "0.5", "effective_from": "2026-01-01T00:00", "notes": "first"}
    )
    version = CostVersion.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/telemetry/costs/{version.pk}/"
    assert version.effective_from == datetime(2025, 12, 31, 18, 30, tzinfo=UTC)  # Kolkata wall time
    assert version.created_by == "user:staff"
    html = staff_client.get(f"/telemetry/costs/{version.pk}/").content.decode()
    assert "2026-03-01" in html and '<td class="num">INR 1.00</td>' in html
    assert DailyTotal.objects.get().cost == Decimal(1)
    bad = staff_client.post("/telemetry/costs/", {"cost_per_kwh": "-2", "effective_from": "soon"})
    assert bad.status_code == 400 and "Give a date and time" in bad.content.decode()
    assert CostVersion.objects.count() == 1


def test_tickets_queue_acknowledge_and_resolve_with_htmx(staff_client, db):
    ticket = ReviewTicket.objects.create(kind="total_mismatch", evidence={"stored_wh": 1, "ledger_wh": 2})
    assert "Daily total vs ledger" in staff_client.get("/telemetry/tickets/").content.decode()
    response = staff_client.post(f"/telemetry/tickets/{ticket.pk}/acknowledge", {"status": "all"}, **HX)
    assert response.content.decode().lstrip().startswith('<div id="ticket-table"')
    ticket.refresh_from_db()
    assert ticket.status == "acknowledged" and ticket.updated_by == "user:staff"
    assert staff_client.post(f"/telemetry/tickets/{ticket.pk}/resolve").status_code == 302
    assert ReviewTicket.objects.get().status == "resolved"
    assert staff_client.post(f"/telemetry/tickets/{ticket.pk}/delete").status_code == 400
    assert "No open tickets" in staff_client.get("/telemetry/tickets/").content.decode()


def test_malformed_messages_are_listed(staff_client, db):
    ingest.reading_record(topic="autovolt/x/telemetry", payload=b"{oops")
    ingest.reading_record(topic="elsewhere/x", payload=b"{}")
    assert MalformedMessage.objects.count() == 2
    html = staff_client.get("/telemetry/malformed/").content.decode()
    assert "telemetry payload is not JSON" in html and "topic is not autovolt" in html


def test_a_device_17_minutes_past_its_last_reading_is_silent_though_a_status_message_came_since(staff_client, db):
    now = dj_timezone.now()
    Device.objects.create(
        name="talker",
        status="online",
        status_at=now,
        last_seen_at=now,
        last_reading_at=now - timedelta(minutes=17),
        last_heartbeat_at=now - timedelta(minutes=20),
    )
    Device.objects.create(
        name="beating",
        status="online",
        last_seen_at=now,
        last_reading_at=now - timedelta(hours=1),
        last_heartbeat_at=now - timedelta(minutes=1),
    )
    html = staff_client.get("/telemetry/devices/").content.decode()
    assert 'id="device-talker" class="silent"' in html
    assert 'id="device-beating" class=""' in html


def test_a_new_token_lands_in_the_panel_outside_the_refreshing_table(staff_client, devices):
    html = staff_client.get("/telemetry/devices/").content.decode()
    panel, refreshing = html.index('id="token-panel"'), html.index('id="device-health"')
    assert panel < refreshing and 'hx-target="#token-panel"' in html
    device = Device.objects.get(name="fresh")
    fragment = staff_client.post(f"/telemetry/devices/{device.pk}/token", **HX).content.decode()
    assert 'id="dismiss-token"' in fragment and 'id="copy-token"' in fragment


def test_costs_show_the_currency_two_decimals_thousands_and_the_change_per_day(staff_client, settings, db):
    settings.TELEMETRY_CURRENCY = "INR"
    settings.TELEMETRY_MAX_POWER_W = 10**9  # 2,000 kWh in a minute is a glitch otherwise; the page is the point
    feed("m1", (0, 0), (60, 2_000_000))  # 2,000 kWh on one day
    staff_client.post(
        "/telemetry/costs/", {"cost_per_kwh": "0.5", "effective_from": "2026-01-01T00:00", "notes": "first"}
    )
    staff_client.post(
        "/telemetry/costs/", {"cost_per_kwh": "0.5225", "effective_from": "2026-02-01T00:00", "notes": "rise"}
    )
    rise = CostVersion.objects.get(notes="rise")
    html = staff_client.get(f"/telemetry/costs/{rise.pk}/").content.decode()
    assert "INR 0.5225 per kWh" in html
    assert '<dd id="cost-change">INR 1,000.00 → INR 1,045.00 (INR +45.00)</dd>' in html
    assert '<td class="num">INR 1,000.00</td><td class="num">INR 1,045.00</td><td class="num">INR +45.00</td>' in html
    listing = staff_client.get("/telemetry/costs/").content.decode()
    assert '<td class="num">INR 0.50</td>' in listing and "0.500000" not in listing
