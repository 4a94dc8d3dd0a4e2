"""Issue 13, staff side, as a person sees it in Chromium: what stays, what updates by itself."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from telemetry.models import Device, Location
from tests.conftest import SMT_SAMPLES
from tests.e2e.test_smt_raw_files import sign_in

pytestmark = [pytest.mark.e2e]


def test_a_new_device_token_survives_the_refresh_until_dismissed_and_fits_the_page(page: Page, live_server, staff_user):
    now = timezone.now()
    Location.objects.create(name="A classroom with a rather long name, Block C")
    device = Device.objects.create(
        name="esp-classroom-with-a-long-name-01", status="online", last_reading_at=now, last_seen_at=now
    )
    page.set_viewport_size({"width": 1400, "height": 900})
    sign_in(page, live_server, "staff", "staff-pass-123")
    page.goto(f"{live_server.url}/telemetry/devices/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f"#new-token-{device.pk}")
    token = page.locator("#device-token")
    expect(token).to_be_visible()
    shown = token.text_content()
    assert len(shown) > 30
    page.wait_for_timeout(11_000)  # two refreshes of the device table
    expect(token).to_have_text(shown)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
    page.click("#dismiss-token")
    expect(page.locator("#device-token")).to_have_count(0)
    device.refresh_from_db()
    assert device.token_matches(shown)


def test_a_device_heard_only_through_status_messages_shows_silent(page: Page, live_server, staff_user):
    now = timezone.now()
    Device.objects.create(
        name="esp-quiet", status="online", status_at=now, last_seen_at=now, last_reading_at=now - timedelta(minutes=17)
    )
    sign_in(page, live_server, "staff", "staff-pass-123")
    page.goto(f"{live_server.url}/telemetry/devices/")
    expect(page.locator("#device-esp-quiet .badge-silent")).to_have_text(re.compile("silent"))


def test_the_upload_banner_follows_the_file_to_normalized_without_a_reload(
    page: Page, live_server, staff_user, qcluster
):
    sign_in(page, live_server, "staff", "staff-pass-123")
    page.set_input_files("input[name=file]", str(SMT_SAMPLES / "portal-IntervalData-2025-12-14-estimated.csv"))
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#upload-result")).to_contain_text("Stored")
    expect(page.locator("#upload-status")).to_have_text("normalized", timeout=30_000)
    row = page.locator("#raw-files tbody tr").first
    expect(row).to_contain_text("10443720000000002")  # from the file: the upload gave no ESIID
