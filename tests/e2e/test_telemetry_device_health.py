"""Device health in a real Chromium: a device's last will reaches the page through Mosquitto,
the subscriber and the page's own refresh."""

import json
import re
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from telemetry.models import Device
from tests.e2e.test_smt_raw_files import sign_in
from tests.telemetry.conftest import broker, connected, mqtt_protocol, prefix, subscriber, wait_until, writers  # noqa: F401

pytestmark = [pytest.mark.e2e]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def device_connect(broker, prefix: str, name: str) -> subprocess.Popen:
    """mosquitto_pub holding a connection with a last will, reading lines to publish from stdin."""
    return subprocess.Popen(
        [
            "mosquitto_pub",
            "-h",
            "127.0.0.1",
            "-p",
            str(broker.port),
            "-q",
            "1",
            "-i",
            f"{prefix}-{name}",
            "--will-topic",
            f"{prefix}/{name}/status",
            "--will-payload",
            "offline",
            "--will-qos",
            "1",
            "-t",
            f"{prefix}/{name}/telemetry",
            "-l",
        ],
        stdin=subprocess.PIPE,
        text=True,
    )


def test_device_goes_offline_on_the_page_when_its_last_will_fires(
    page: Page, live_server, staff_user, subscriber, broker, prefix
):
    connected(subscriber)
    subprocess.run(
        [
            "mosquitto_pub",
            "-h",
            "127.0.0.1",
            "-p",
            str(broker.port),
            "-q",
            "1",
            "-t",
            f"{prefix}/esp-hall/status",
            "-m",
            "online",
        ],
        check=True,
    )
    device = device_connect(broker, prefix, "esp-hall")
    for minute, wh in enumerate((1000, 1004, 1009)):
        device.stdin.write(
            json.dumps({"energy_wh_total": wh, "power_w": 240 + minute, "ts": 1772344800 + minute * 60}) + "\n"
        )
    device.stdin.flush()
    wait_until(
        lambda: Device.objects.filter(name="esp-hall", status="online", last_reading_at__isnull=False).exists(),
        20,
        "online",
    )

    sign_in(page, live_server, "staff", "staff-pass-123")
    page.goto(f"{live_server.url}/telemetry/devices/")
    row = page.locator("#device-esp-hall")
    expect(row.locator(".badge-online")).to_have_text("online")
    expect(row).to_contain_text("242 W")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "telemetry-device-health-online.png"), full_page=True)

    device.kill()  # no DISCONNECT: the broker publishes the last will
    device.wait(5)
    expect(row.locator(".badge-offline")).to_have_text("offline", timeout=20_000)  # the page refreshes itself
    expect(page.locator("#online-count")).to_have_text("0")
    assert re.search("offline", row.get_attribute("data-status"))
    page.screenshot(path=str(SCREENSHOTS / "telemetry-device-health-offline.png"), full_page=True)
