"""Issue 16 in a real browser: a customer uploads a Green Button file and downloads their usage as one."""

import re
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from smt.greenbutton import greenbutton_read
from smt.models import House, RawSmtFile, SmtInterval
from tests.e2e.test_smt_raw_files import sign_in
from tests.e2e.test_smt_usage import screenshot
from tests.smt.test_greenbutton import espi, quarter_hours

pytestmark = [pytest.mark.e2e]
OWN = "10443720000000002"


def test_customer_uploads_a_green_button_file_and_downloads_an_export(page: Page, live_server, customer_user, tmp_path):
    House.objects.create(customer=customer_user, name="12 Oak St", esiid=OWN, meter="M7")
    upload = tmp_path / "green-button.xml"
    upload.write_bytes(espi([{"blocks": [quarter_hours(date(2025, 6, 1))]}]).getvalue())
    sign_in(page, live_server, "customer", "customer-pass-123")
    page.goto(f"{live_server.url}/customer/smt-upload")
    expect(page.locator("#green-button-note")).to_contain_text("Green Button")
    page.set_input_files("input[name=file]", str(upload))
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#upload-result")).to_contain_text("96 readings for Jun 1, 2025 added")
    screenshot(page, "customer-upload-green-button")
    assert RawSmtFile.objects.get().kind == "greenbutton"
    assert SmtInterval.objects.filter(esiid=OWN, meter="M7").count() == 96

    page.goto(f"{live_server.url}/customer/usage")
    link = page.locator("a.green-button-download")
    expect(link).to_contain_text("Download Green Button")
    screenshot(page, "customer-usage-green-button")
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "export.xml"
    download.value.save_as(saved)
    assert re.match(rf"green-button-{OWN}-\d{{4}}-\d\d-\d\d-\d{{4}}-\d\d-\d\d\.xml$", download.value.suggested_filename)
    exported = greenbutton_read(saved.open("rb"), esiid=OWN)
    assert len(exported.rows) == 96 and {row.esiid for row in exported.rows} == {OWN}


def test_staff_see_conflicting_rows_on_the_raw_file_page_and_a_green_button_link_on_usage(
    page: Page, live_server, staff_user
):
    from tests.conftest import SMT_SAMPLES
    from tests.e2e.test_smt_usage import store

    text = (SMT_SAMPLES / "portal-IntervalData-2025-12-14-estimated.csv").read_bytes()
    store(text, "first.csv")
    second = store(text.replace(b",0.3", b",0.9"), "second.csv")
    sign_in(page, live_server, "staff", "staff-pass-123")
    page.goto(f"{live_server.url}{second.get_absolute_url()}")
    expect(page.locator("#conflicting")).to_contain_text("conflicting row")
    expect(page.locator("#conflicting table.conflicts tbody tr")).to_have_count(5)
    screenshot(page, "raw-file-conflicting")
    page.goto(f"{live_server.url}/smt/usage/?esiid=10443720000000002&start=2025-12-14&end=2025-12-14")
    expect(page.locator("#green-button-download")).to_have_attribute(
        "href", re.compile(r"/api/admin/smt/green-button\?esiid=10443720000000002")
    )
    screenshot(page, "usage-green-button-link")


def test_staff_resend_a_failed_green_button_file_with_its_esiid_from_the_upload_card(
    page: Page, live_server, staff_user, tmp_path
):
    from smt import ingest
    from tests.smt.conftest import store

    # Stored with no ESIID (as the mirror stores one), so the worker fails it naming the UsagePoint.
    data = espi([{"blocks": [quarter_hours(date(2025, 6, 1))]}]).getvalue()
    raw = store(data, "usage.xml")
    assert "needs an ESIID" in ingest.raw_file_ingest(raw_file=raw)["error"]
    upload = tmp_path / "usage.xml"
    upload.write_bytes(data)
    sign_in(page, live_server, "staff", "staff-pass-123")
    page.goto(f"{live_server.url}{raw.get_absolute_url()}")
    expect(page.locator("#hints")).to_contain_text("Normalize again with hints")
    page.goto(f"{live_server.url}/smt/raw-files/")
    page.set_input_files("input[name=file]", str(upload))
    page.fill("input[name=esiid]", OWN)
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#upload-result")).to_contain_text("Already stored; re-queued with the new ESIID")
    screenshot(page, "raw-file-resend-with-esiid")
    raw.refresh_from_db()
    assert raw.status == "normalized" and raw.hints_set_by == "user:staff"
    assert SmtInterval.objects.filter(esiid=OWN).count() == 96
