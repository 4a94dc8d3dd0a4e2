"""Locations, cost versions and tickets in a real Chromium, with screenshots to look at."""

from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from telemetry.models import Device, Location, ReviewTicket
from tests.e2e.test_smt_raw_files import sign_in
from tests.e2e.test_telemetry_device_health import SCREENSHOTS
from tests.telemetry.conftest import feed, place

pytestmark = [pytest.mark.e2e]


def test_location_charts_cost_version_and_ticket_queue(page: Page, live_server, staff_user, settings):
    settings.TELEMETRY_TIME_ZONE = "Asia/Kolkata"
    room = Location.objects.create(name="Physics lab")
    start = datetime(2026, 2, 20, 18, 30, tzinfo=UTC)  # local midnight
    readings = [(m, m * 9 + (m // 60) * 30, {"power_w": 400 + (m % 300)}) for m in range(0, 9 * 24 * 60, 10)]
    feed("lab-1", *readings, start=start)
    place("lab-1", room)
    ReviewTicket.objects.create(
        kind="total_mismatch", device=Device.objects.get(name="lab-1"), evidence={"stored_wh": 1, "ledger_wh": 2}
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    sign_in(page, live_server, "staff", "staff-pass-123")
    page.goto(f"{live_server.url}/telemetry/locations/{room.pk}/?start=2026-02-20&end=2026-03-01&day=2026-02-25")
    expect(page.locator("svg.bars rect")).to_have_count(10)
    expect(page.locator("svg.timeline polyline.power")).to_have_count(1)
    page.screenshot(path=str(SCREENSHOTS / "telemetry-location.png"), full_page=True)

    page.goto(f"{live_server.url}/telemetry/costs/")
    page.fill("input[name=cost_per_kwh]", "0.12")
    page.fill("input[name=effective_from]", "2026-02-24T12:00")
    page.fill("input[name=notes]", "Winter tariff")
    page.click("#cost-form button[type=submit]")
    expect(page.locator("#recalculation tbody tr")).to_have_count(6)  # 24th (half) to 1 March
    page.screenshot(path=str(SCREENSHOTS / "telemetry-cost-version.png"), full_page=True)

    page.goto(f"{live_server.url}/telemetry/tickets/")
    page.click("#tickets button:has-text('Acknowledge')")
    expect(page.locator("#ticket-table .empty")).to_have_text("No open tickets.")
    page.click("a.button:has-text('all')")
    expect(page.locator("#tickets .badge-t-acknowledged")).to_have_count(1)
    page.screenshot(path=str(SCREENSHOTS / "telemetry-tickets.png"), full_page=True)


def test_moving_a_device_from_a_day_on_its_page_keeps_the_old_rooms_days(page: Page, live_server, staff_user, settings):
    settings.TELEMETRY_TIME_ZONE = "Asia/Kolkata"
    lab, library = Location.objects.create(name="Physics lab"), Location.objects.create(name="Library")
    start = datetime(2026, 2, 20, 18, 30, tzinfo=UTC)  # local midnight
    feed("lab-1", *[(m, m * 9, {"power_w": 540}) for m in range(0, 9 * 24 * 60, 30)], start=start)
    place("lab-1", lab)
    device = Device.objects.get(name="lab-1")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    sign_in(page, live_server, "staff", "staff-pass-123")
    page.goto(f"{live_server.url}/telemetry/devices/")
    expect(page.locator(f"#assign-from-{device.pk}")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "telemetry-device-health-assign.png"), full_page=True)
    page.click("#device-lab-1 a:has-text('lab-1')")
    page.select_option("#assign-form select[name=location]", label="Library")
    page.fill("#assign-form input[name=effective_from]", "2026-02-25")
    page.fill("#assign-form input[name=note]", "Moved for exams")
    page.click("#assign-form button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("lab-1 is in Library from 2026-02-25.")
    expect(page.locator("#assignments tbody tr")).to_have_count(2)
    page.screenshot(path=str(SCREENSHOTS / "telemetry-device-detail.png"), full_page=True)

    page.select_option("#assign-form select[name=location]", label="Physics lab")
    page.fill("#assign-form input[name=effective_from]", "2026-02-22")
    page.click("#assign-form button[type=submit]")
    expect(page.locator("#assign-form .field-error")).to_contain_text("a move cannot take effect before that day")
    page.screenshot(path=str(SCREENSHOTS / "telemetry-device-assign-refused.png"), full_page=True)

    page.goto(f"{live_server.url}/telemetry/locations/{lab.pk}/?start=2026-02-20&end=2026-03-01&day=2026-02-24")
    expect(page.locator("#stays .badge-moved-out")).to_have_count(1)
    expect(page.locator("svg.timeline polyline.power")).to_have_count(1)
    page.screenshot(path=str(SCREENSHOTS / "telemetry-location-moved-out.png"), full_page=True)
    page.goto(f"{live_server.url}/telemetry/locations/{library.pk}/?start=2026-02-20&end=2026-03-01&day=2026-02-26")
    expect(page.locator("#stays .badge-moved-in")).to_have_count(1)
    page.screenshot(path=str(SCREENSHOTS / "telemetry-location-moved-in.png"), full_page=True)
