import re
from datetime import UTC, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from config.texas import CENTRAL
from tests.conftest import ROOT
from tests.e2e.test_smt_raw_files import sign_in
from tests.ercot.conftest import SAMPLE_ROWS, MisDoc, constructed, emulator, extract_row, make_zip, mis  # noqa: F401

pytestmark = [pytest.mark.e2e]
SHOTS = ROOT / "var" / "screenshots"


def test_fetch_now_shows_todays_files_and_the_strip_of_days(page: Page, live_server, staff_user, mis):  # noqa: F811
    today = timezone.localdate(timezone=CENTRAL)
    earlier = today - timedelta(days=3)
    mis.docs += [
        MisDoc(
            "2001",
            constructed(str(earlier), "ONCOR_ELEC___FUL", "181158000"),
            make_zip(extract_row("10443720000000001") * 3),
            f"{earlier}T18:11:58-06:00",
        ),
        MisDoc(
            "2002",
            constructed(str(today), "ONCOR_ELEC___DAILY"),
            make_zip(extract_row("10443720000000002", address="206 BOXWOOD DR", zipcode="750881851")),
        ),
        MisDoc("2003", constructed(str(today), "CENTERPOINT__DAILY", "055219302"), make_zip(SAMPLE_ROWS)),
        MisDoc("2004", constructed(str(today), "TNMP_________DAILY", "055219400"), b"<html>maintenance</html>"),
    ]
    for doc in mis.docs[1:]:
        doc.publish = f"{today}T05:52:19-06:00"
    SHOTS.mkdir(parents=True, exist_ok=True)
    sign_in(page, live_server, "staff", "staff-pass-123")
    page.goto(f"{live_server.url}/ercot/")
    expect(page.locator("#day-strip .empty")).to_contain_text("No extract stored yet")

    page.click("#fetch-now")
    expect(page.locator(".messages")).to_contain_text("ERCOT fetch queued")
    expect(page.locator("#today-count")).to_have_text("2")
    rows = page.locator("#ercot-files tbody tr")
    expect(rows).to_have_count(4)
    expect(page.locator("#ercot-files")).to_contain_text("ONCOR_ELEC___DAILY")
    expect(page.locator("#ercot-files .badge-failed")).to_have_count(1)
    oncor = page.locator('tr[data-tdsp="ONCOR_ELEC"] td')
    expect(oncor).to_have_count(31)
    expect(oncor.last).to_have_attribute("title", f"{today:%Y-%m-%d}: DAILY")
    expect(oncor.nth(27)).to_have_attribute("title", f"{earlier:%Y-%m-%d}: FUL")
    expect(page.locator('tr[data-tdsp="CENTERPOINT"] td.present')).to_have_count(1)
    page.screenshot(path=str(SHOTS / "ercot-ingest-list.png"), full_page=True)

    page.select_option("select[name=status]", "failed")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("TNMP")
    expect(page).to_have_url(re.compile(r"status=failed"))

    page.click("text=ESIID lookup")
    page.fill("#q", "boxwood")  # the Oncor premise and CenterPoint's sample row share the street
    expect(page.locator("#esiids tbody tr")).to_have_count(2)
    page.fill("#q", "75088")
    expect(page.locator("#esiids tbody tr")).to_have_count(1)
    expect(page.locator("#esiids")).to_contain_text("10443720000000002")
    page.screenshot(path=str(SHOTS / "ercot-esiid-lookup.png"), full_page=True)


def test_smt_raw_file_page_shows_the_ercot_record_and_warning(page: Page, live_server, staff_user):
    import hashlib
    import io
    from datetime import datetime

    from ercot import esiids
    from smt import normalize, storage
    from tests.conftest import SMT_SAMPLES

    row = extract_row(
        "10443720000000002", address="206 BOXWOOD DR", status="De-Energized", premise="Small Non-Residential"
    )
    esiids.esiid_records_load(
        records=[row.strip().replace('"', "").split(",")],
        tdsp="ONCOR_ELEC",
        posted_at=datetime(2026, 6, 3, 11, tzinfo=UTC),
        ingest_id=None,
    )
    data = (SMT_SAMPLES / "portal-IntervalData-2025-11-02-fall-back.csv").read_bytes()
    raw = storage.raw_file_store(
        fileobj=io.BytesIO(data),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        filename="fall-back.csv",
        esiid="10443720000000002",
        origin="staff",
    ).raw_file
    normalize.raw_file_normalize(raw_file=raw)
    sign_in(page, live_server, "staff", "staff-pass-123")
    page.goto(f"{live_server.url}/smt/raw-files/{raw.pk}/")
    expect(page.locator(".esiid-warning")).to_have_text(
        "ESIID 10443720000000002: status De-Energized in the ERCOT ESIID extract"
    )
    expect(page.locator("#esiid-record")).to_contain_text("206 BOXWOOD DR")
    expect(page.locator("#esiid-record")).to_contain_text("Small Non-Residential")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "ercot-smt-raw-file.png"), full_page=True)
