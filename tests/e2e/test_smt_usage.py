"""Issue 3 in a real browser: staff read completeness and delete a range; customers upload and see usage."""

import hashlib
import io
import re
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from smt import normalize, storage
from smt.demo import interval_csv_lines
from smt.models import House, IntervalDeletion, SmtInterval
from tests.conftest import SMT_SAMPLES
from tests.e2e.test_smt_raw_files import sign_in

pytestmark = [pytest.mark.e2e]
ESIID = "10443720000000007"
OWN = "10443720000000002"


def store(data: bytes, name: str, meter: str = "M1"):
    raw = storage.raw_file_store(
        fileobj=io.BytesIO(data),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        filename=name,
        meter=meter,
        origin="staff",
    ).raw_file
    normalize.raw_file_normalize(raw_file=raw)
    return raw


def screenshot(page: Page, name: str) -> None:
    page.screenshot(path=f"var/screenshots/{name}.png", full_page=True)


def test_staff_find_meter_read_heatmap_and_delete_a_range(page: Page, live_server, staff_user):
    # Three local weeks of a generated meter, spanning the 2025 fall-back day.
    store("".join(interval_csv_lines(esiids=[ESIID], start=date(2025, 10, 20), days=21)).encode(), "three-weeks.csv")
    sign_in(page, live_server, "staff", "staff-pass-123")

    page.goto(f"{live_server.url}/smt/usage/")
    page.fill("input[name=esiid]", ESIID)
    page.fill("input[name=start]", "2025-10-20")
    page.fill("input[name=end]", "2025-11-09")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#total-completeness")).to_have_text("100%")
    expect(page.locator("svg.heatmap rect")).to_have_count(21)
    fall_back = page.locator('svg.heatmap rect[data-date="2025-11-02"]')
    expect(fall_back.locator("title")).to_contain_text("100/100 intervals (100%)")
    screenshot(page, "usage-summary-complete")

    # Delete two local days, previewed first, then confirmed.
    page.goto(f"{live_server.url}/smt/intervals/delete")
    page.fill("input[name=esiid]", ESIID)
    page.fill("input[name=meter]", "M1")
    page.fill("input[name=start]", "2025-10-28")
    page.fill("input[name=end]", "2025-10-29")
    page.fill("input[name=reason]", "double-loaded by a bad script")
    page.click("#preview-button")
    expect(page.locator("#preview-count")).to_have_text("192")
    assert SmtInterval.objects.filter(esiid=ESIID).count() == 21 * 96 + 4  # nothing gone on preview
    screenshot(page, "interval-delete-preview")
    page.click("#confirm-delete")
    expect(page.locator(".messages")).to_contain_text("192")
    assert SmtInterval.objects.filter(esiid=ESIID).count() == 21 * 96 + 4 - 192
    audit = IntervalDeletion.objects.get()
    assert (audit.deleted_count, audit.reason, audit.deleted_by.username) == (
        192,
        "double-loaded by a bad script",
        "staff",
    )

    # The heatmap now shows the two empty days, and the audit page lists the deletion.
    page.goto(f"{live_server.url}/smt/usage/?esiid={ESIID}&start=2025-10-20&end=2025-11-09")
    expect(page.locator('svg.heatmap rect[data-date="2025-10-28"] title')).to_contain_text("0/96")
    expect(page.locator('svg.heatmap rect[data-date="2025-10-28"]')).to_have_attribute("fill", "#e4e7ec")
    expect(page.locator("#total-completeness")).not_to_have_text("100%")
    page.goto(f"{live_server.url}/smt/deletions/")
    expect(page.locator("table")).to_contain_text("double-loaded by a bad script")
    expect(page.locator("table")).to_contain_text("192")
    expect(page.locator("table")).to_contain_text("2025-10-28 00:00 CDT")  # local midnight, labelled
    screenshot(page, "deletion-audit")


def test_customer_uploads_export_and_sees_chart(page: Page, live_server, customer_user):
    House.objects.create(customer=customer_user, name="12 Oak St", esiid=OWN, meter="M7")
    sign_in(page, live_server, "customer", "customer-pass-123")
    expect(page).to_have_url(re.compile(r"/customer/usage$"))
    page.goto(f"{live_server.url}/customer/smt-upload")
    expect(page.locator("#uploads-left")).to_have_text("5")
    page.set_input_files("input[name=file]", str(SMT_SAMPLES / "portal-IntervalData-2025-11-02-fall-back.csv"))
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#upload-result")).to_contain_text("100 readings for Nov 2, 2025 added")  # the outcome in words
    expect(page.locator("#uploads-left")).to_have_text("4")
    assert SmtInterval.objects.filter(esiid=OWN, meter="M7").count() == 100

    page.goto(f"{live_server.url}/customer/usage")
    house = page.locator("section.house")
    expect(house).to_contain_text("12 Oak St")
    expect(house.locator("svg.heatmap rect[data-date='2025-11-02'] title")).to_contain_text("100/100")
    expect(house.locator("svg rect.bar")).not_to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("4 left this month"))).to_be_visible()
    screenshot(page, "customer-usage")


def test_customer_uploading_a_foreign_esiid_sees_the_refusal(page: Page, live_server, customer_user):
    House.objects.create(customer=customer_user, name="12 Oak St", esiid=OWN, meter="M7")
    sign_in(page, live_server, "customer", "customer-pass-123")
    page.goto(f"{live_server.url}/customer/smt-upload")
    page.set_input_files("input[name=file]", str(SMT_SAMPLES / "portal-IntervalData-2022-excerpt.csv"))
    page.click("#upload-form button[type=submit]")
    result = page.locator("#upload-result")
    expect(result).to_contain_text("Upload refused (422)")
    expect(result).to_contain_text("10443720000000001")
    expect(page.locator("#uploads-left")).to_have_text("5")
    screenshot(page, "customer-upload-refused")
    assert SmtInterval.objects.count() == 0
