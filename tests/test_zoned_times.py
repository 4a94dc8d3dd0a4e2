"""Every time a staff page shows names its zone: "2026-12-06 19:37 CST", never a bare "19:37".

SMT, ERCOT and ops pages show Central; telemetry pages show TELEMETRY_TIME_ZONE (set here to
UTC's neighbour Asia/Kolkata, IST, so a Central time there would be caught too).
"""

import re

import pytest
from django.core.management import call_command

from ercot.models import ErcotIngest
from ops.jobs import job_run_call
from ops.models import JobRun, Monitor
from smt.models import House, RawSmtFile
from telemetry.models import Device, MalformedMessage, ReviewTicket

pytestmark = pytest.mark.django_db

# A date with a clock time, or a clock time alone with seconds ("checked 04:51:09").
TIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?(?![\d:])|(?<![\d:-])\d{2}:\d{2}:\d{2}(?![\d:])")
CENTRAL_ZONES = ("CST", "CDT")


def shown_times(html: str) -> list[str]:
    """Each time in the page's text and titles, with the 8 characters after it."""
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    titles = re.findall(r'title="([^"]*)"', html)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]*>", " ", html))
    return [m.group(0) + part[m.end() : m.end() + 8] for part in [text, *titles] for m in TIME.finditer(part)]


@pytest.fixture
def demo(settings):
    settings.TELEMETRY_TIME_ZONE = "Asia/Kolkata"
    call_command("load_demo_data", "--days", "3")
    call_command("monitors_check")
    job_run_call(kind="mirror", trigger="manual", call=lambda job: job.note("mirrored"))
    ReviewTicket.objects.get_or_create(
        kind=ReviewTicket.Kind.SILENT_DEVICE, device=Device.objects.first(), day="2026-06-01", defaults={"evidence": {}}
    )
    MalformedMessage.objects.create(topic="tele/x/SENSOR", payload="{", error="not JSON")


def staff_pages() -> list[tuple[str, tuple[str, ...]]]:
    raw, job, monitor = RawSmtFile.objects.first(), JobRun.objects.first(), Monitor.objects.first()
    device, ingest = Device.objects.first(), ErcotIngest.objects.first()
    assert raw and job and monitor and device and ingest, "the demo data fills every page"
    central = [
        "/smt/raw-files/",
        f"/smt/raw-files/{raw.pk}/",
        f"/smt/intervals/?esiid={House.objects.first().esiid}",
        "/smt/deletions/",
        "/smt/usage/portfolio",
        "/smt/billing-reads/",
        "/ercot/",
        "/ercot/esiids/?q=1044",
        "/ops/jobs/",
        f"/ops/jobs/{job.pk}/",
        "/ops/",
        f"/ops/monitors/{monitor.pk}/",
    ]
    telemetry = [
        "/telemetry/devices/",
        f"/telemetry/devices/{device.pk}/",
        "/telemetry/tickets/",
        "/telemetry/malformed/",
        "/telemetry/costs/",
    ]
    return [(url, CENTRAL_ZONES) for url in central] + [(url, ("IST",)) for url in telemetry]


def test_every_time_on_the_main_staff_pages_names_its_zone(staff_client, demo):
    seen = 0
    for url, zones in staff_pages():
        response = staff_client.get(url)
        assert response.status_code == 200, url
        for shown in shown_times(response.content.decode()):
            # UTC said outright ("...T06:00:00Z", "06:00 UTC") names its zone too.
            assert re.search(rf"^[\d:T -]+?(Z| UTC| {'| '.join(zones)})(?![A-Za-z])", shown), (
                f"{url}: {shown!r} names no zone"
            )
            seen += 1
    assert seen >= 20  # the pages did show times


def test_a_file_without_a_posting_time_shows_a_dash_not_an_error(staff_client, unposted_ingest):
    html = staff_client.get("/ercot/").content.decode()

    assert 'id="ercot-files"' in html and "—" in html.split('id="ercot-files"')[1]


@pytest.fixture
def unposted_ingest(db):
    return ErcotIngest.objects.create(doc_id="1", filename="listed.zip", method="mis", status="failed", posted_at=None)
