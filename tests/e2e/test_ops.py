"""The status board, pausing a monitor with a reason, and the ERCOT page after a failed fetch, in Chromium."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from ops.models import Monitor, MonitorEvent
from tests.conftest import ROOT
from tests.e2e.test_smt_raw_files import sign_in
from tests.ercot.conftest import MisDoc, constructed, emulator, mis  # noqa: F401

pytestmark = [pytest.mark.e2e]
SHOTS = ROOT / "var" / "screenshots"


@pytest.fixture
def board():
    now = timezone.now()
    down = Monitor.objects.create(
        kind="device",
        key="1",
        subject="esp-kitchen",
        state="down",
        since=now - timedelta(hours=2),
        evidence="last heard 2026-12-04 23:45 CST, 58 h ago; threshold 15 min",
    )
    MonitorEvent.objects.create(monitor=down, previous="late", state="down", evidence=down.evidence)
    Monitor.objects.create(
        kind="smt-data",
        key="10443720000000001",
        subject="10443720000000001",
        state="late",
        evidence="newest interval 2026-12-04 10:00 CST, 50 h ago; threshold 48 h",
    )
    Monitor.objects.create(
        kind="subscriber",
        key="mqtt",
        subject="MQTT subscriber",
        state="up",
        evidence="connected since 2026-12-07 08:00 CST, heartbeat 0 min ago; newest message 1 min ago",
    )
    return down


def test_the_board_puts_problems_first_and_a_monitor_is_paused_with_a_reason(
    page: Page, live_server, staff_user, board
):
    SHOTS.mkdir(parents=True, exist_ok=True)
    sign_in(page, live_server, "staff", "staff-pass-123")
    page.goto(f"{live_server.url}/ops/")
    rows = page.locator("#monitor-board tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("esp-kitchen")
    expect(rows.nth(1)).to_contain_text("late")
    expect(page.locator(".summary")).to_contain_text("1 down")
    page.screenshot(path=str(SHOTS / "ops-status-board.png"), full_page=True)

    page.click("text=esp-kitchen")
    page.fill("input[name=reason]", "device unplugged for the kitchen remodel")
    page.click("button:has-text('Pause')")
    expect(page.locator(".messages")).to_contain_text("esp-kitchen paused")
    expect(page.locator("section.card").first).to_contain_text("Paused: device unplugged for the kitchen remodel")
    expect(page.locator("button:has-text('Resume')")).to_be_visible()
    page.screenshot(path=str(SHOTS / "ops-monitor-paused.png"), full_page=True)
    page.goto(f"{live_server.url}/ops/")
    expect(page.locator(".summary")).to_contain_text("1 paused")
    expect(page.locator("#monitor-board")).to_contain_text("paused: device unplugged for the kitchen remodel")


def test_the_ercot_page_shows_a_failed_fetch_with_its_error_and_a_link_to_the_run(
    page: Page, live_server, staff_user, mis
):  # noqa: F811
    today = timezone.localdate()
    mis.docs.append(
        MisDoc("3001", constructed(str(today), "TNMP_________DAILY", "055219400"), b"<html>maintenance</html>")
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    sign_in(page, live_server, "staff", "staff-pass-123")
    page.goto(f"{live_server.url}/ercot/")
    page.click("#fetch-now")
    expect(page.locator("#last-fetch-status")).to_have_text("failed")
    expect(page.locator("#last-fetch")).to_contain_text("started by staff: staff")
    expect(page.locator("#last-fetch-errors")).to_contain_text("TNMP")
    page.screenshot(path=str(SHOTS / "ercot-last-fetch-failed.png"), full_page=True)
    page.click("#last-fetch-link")
    expect(page.locator("#job-status-badge")).to_have_text("failed")
    expect(page.locator("#job-started-by")).to_contain_text("staff: staff")
    page.screenshot(path=str(SHOTS / "ops-job-detail-failed.png"), full_page=True)
