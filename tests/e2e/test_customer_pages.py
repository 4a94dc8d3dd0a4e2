"""Issue 13 in a real browser, the customer side: upload outcomes, My uploads, the date range,
the empty state, local missing spans and the phone layout. Screenshots go to var/screenshots/."""

import hashlib
import io
import re
from datetime import date, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from config.texas import CENTRAL
from smt import normalize, storage
from smt.demo import interval_csv_lines
from smt.models import House, RawSmtFile
from tests.conftest import SMT_SAMPLES
from tests.e2e.test_smt_raw_files import sign_in

pytestmark = [pytest.mark.e2e]
OWN = "10443720000000002"
OLD = "10443720000000001"  # the ESIID of the 2022 portal excerpt
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1400, "height": 900}


def store(lines, name: str, *, user=None, origin: str = "staff", meter: str = "M7") -> RawSmtFile:
    data = "".join(lines).encode()
    raw = storage.raw_file_store(
        fileobj=io.BytesIO(data),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        filename=name,
        origin=origin,
        uploaded_by=user,
        meter=meter,
    ).raw_file
    normalize.raw_file_normalize(raw_file=raw)
    return raw


def shoot(page: Page, name: str) -> None:
    """The same page at 1400 px and 390 px, for people to look at."""
    for label, size in (("1400", DESKTOP), ("390", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=f"var/screenshots/{name}-{label}.png", full_page=True)


def test_customer_sees_what_the_upload_added_without_reloading(page: Page, live_server, customer_user, monkeypatch):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)  # no worker: the file waits in the queue until the test reads it
    House.objects.create(customer=customer_user, name="12 Oak St", esiid=OWN, meter="M7")
    sign_in(page, live_server, "customer", "customer-pass-123")
    page.goto(f"{live_server.url}/customer/smt-upload")
    page.set_input_files("input[name=file]", str(SMT_SAMPLES / "portal-IntervalData-2025-11-02-fall-back.csv"))
    page.click("#upload-form button[type=submit]")
    result = page.locator("#upload-result")
    expect(result).to_contain_text("reading your file now")
    shoot(page, "customer-upload-pending")

    normalize.raw_file_normalize(raw_file=RawSmtFile.objects.get(uploaded_by=customer_user))  # the worker's turn
    expect(result).to_contain_text("100 readings for Nov 2, 2025 added", timeout=10_000)
    expect(result).not_to_contain_text("raw file #")
    shoot(page, "customer-upload-done")

    result.get_by_role("link", name="See these days on your usage page").click()
    expect(page.locator('svg.heatmap rect[data-date="2025-11-02"] title')).to_contain_text("100/100")


def test_my_uploads_lists_only_my_files_in_words(page: Page, live_server, customer_user, django_user_model):
    House.objects.create(customer=customer_user, name="12 Oak St", esiid=OWN, meter="M7")
    other = django_user_model.objects.create_user("neighbour", password="neighbour-pass-1")
    House.objects.create(customer=other, name="14 Oak St", esiid="10443720000000009")
    store(
        interval_csv_lines(esiids=[OWN], start=date(2025, 11, 1), days=30),
        "november.csv",
        user=customer_user,
        origin="customer",
    )
    store(
        interval_csv_lines(esiids=["10443720000000009"], start=date(2025, 11, 1), days=2),
        "theirs.csv",
        user=other,
        origin="customer",
    )
    sign_in(page, live_server, "customer", "customer-pass-123")
    page.goto(f"{live_server.url}/customer/uploads/")
    uploads = page.locator("#my-uploads li")
    expect(uploads).to_have_count(1)
    expect(uploads).to_contain_text("november.csv")
    expect(uploads).to_contain_text("2884 readings for Nov 1 – 30, 2025 added")  # the fall-back day has 100
    expect(page.locator("body")).not_to_contain_text("theirs.csv")
    shoot(page, "customer-uploads")


def test_range_control_shows_an_older_month(page: Page, live_server, customer_user):
    House.objects.create(customer=customer_user, name="Old Farmhouse", esiid=OLD)
    yesterday = timezone.localdate(timezone=CENTRAL) - timedelta(days=1)
    store(interval_csv_lines(esiids=[OLD], start=yesterday - timedelta(days=13), days=14), "recent.csv")
    store([(SMT_SAMPLES / "portal-IntervalData-2022-excerpt.csv").read_text()], "2022.csv")
    sign_in(page, live_server, "customer", "customer-pass-123")
    page.goto(f"{live_server.url}/customer/usage")
    expect(page.locator('svg.heatmap rect[data-date="2022-03-01"]')).to_have_count(0)  # the latest days first

    page.fill("input[name=start]", "2022-03-01")
    page.fill("input[name=end]", "2022-03-31")
    page.get_by_role("button", name="Show these days").click()
    expect(page.locator('svg.heatmap rect[data-date="2022-03-01"] title')).to_contain_text("4/96")  # a four-row excerpt
    expect(page.locator("section.house .tile").first).to_contain_text("used, Mar 1 – 31, 2022")
    shoot(page, "customer-usage-older-month")

    page.get_by_role("link", name=yesterday.strftime("%b %Y")).click()  # the month links do the same
    expect(page.locator(f'svg.heatmap rect[data-date="{yesterday:%Y-%m-01}"]')).to_have_count(1)


def test_new_customer_is_told_what_to_do_first(page: Page, live_server, customer_user):
    House.objects.create(customer=customer_user, name="12 Oak St", esiid=OWN, meter="M7")
    sign_in(page, live_server, "customer", "customer-pass-123")
    page.goto(f"{live_server.url}/customer/usage")
    guide = page.locator("#get-started")
    expect(guide).to_contain_text("We have no readings for this home yet")
    expect(guide).to_contain_text("Energy Data 15 Min Interval")
    expect(guide.get_by_role("link", name="Upload your first export")).to_be_visible()
    house = page.locator("section.house")
    expect(house).not_to_contain_text("0.0 kWh")
    expect(house).not_to_contain_text("0%")
    expect(house.locator("svg")).to_have_count(0)  # no empty chart, no grey calendar
    shoot(page, "customer-usage-empty")
    page.goto(f"{live_server.url}/customer/uploads/")
    expect(page.locator(".empty")).to_contain_text("You have not uploaded anything yet")
    shoot(page, "customer-uploads-empty")


def test_usage_explains_estimated_days_and_missing_readings_in_plain_words(page: Page, live_server, customer_user):
    House.objects.create(customer=customer_user, name="12 Oak St", esiid=OWN, meter="M7")
    data = (SMT_SAMPLES / "portal-IntervalData-2025-12-14-estimated.csv").read_text()
    store([data], "estimated.csv", user=customer_user, origin="customer")
    sign_in(page, live_server, "customer", "customer-pass-123")
    page.goto(f"{live_server.url}/customer/usage")
    house = page.locator("section.house")
    expect(house.locator("svg rect.bar.est")).to_have_count(1)
    expect(house.locator(".legend").first).to_contain_text("partly estimated by your utility")
    expect(house).not_to_contain_text("of intervals received")
    expect(house).not_to_contain_text("Days with complete data")
    shoot(page, "customer-usage")


def test_phone_header_stays_on_one_line_and_tiles_pair_up(page: Page, live_server, customer_user):
    House.objects.create(customer=customer_user, name="12 Oak St", esiid=OWN, meter="M7")
    store(
        [(SMT_SAMPLES / "portal-IntervalData-2025-11-02-fall-back.csv").read_text()],
        "fall-back.csv",
        user=customer_user,
        origin="customer",
    )
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, "customer", "customer-pass-123")
    for path in ("/customer/usage", "/customer/smt-upload", "/customer/uploads/"):
        page.goto(f"{live_server.url}{path}")
        header = page.locator("header.topbar").bounding_box()
        assert header["height"] < 56, f"{path}: the header wraps ({header['height']} px high)"
        tops = {round(page.locator(f"header.topbar nav a >> nth={n}").bounding_box()["y"]) for n in range(3)}
        assert len(tops) == 1, f"{path}: nav links on {len(tops)} lines"
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, f"{path}: the page scrolls sideways"
    page.goto(f"{live_server.url}/customer/usage")
    tiles = page.locator("section.house .tile")
    assert tiles.nth(0).bounding_box()["y"] == tiles.nth(1).bounding_box()["y"]  # two per row, not one
    axis = page.locator("section.house svg.bars text.axis").first.bounding_box()
    assert axis["height"] >= 9, "the daily chart's axis text is shrunk past reading"


def test_missing_spans_read_in_central_time(page: Page, live_server, customer_user, staff_user):
    """A day missing 18:00–22:00 Central (00:00–04:00 UTC the next day) and a whole missing day."""
    House.objects.create(customer=customer_user, name="12 Oak St", esiid=OWN, meter="M7")
    evening = re.compile(r"^'\d+,11/05/2025,[^,]+,(18|19|20|21):")
    lines = [
        line
        for line in interval_csv_lines(esiids=[OWN], start=date(2025, 11, 3), days=7)
        if not evening.match(line) and ",11/07/2025," not in line
    ]
    store(lines, "week.csv")
    sign_in(page, live_server, "staff", "staff-pass-123")
    page.goto(f"{live_server.url}/smt/usage/?esiid={OWN}&start=2025-10-27&end=2025-11-09")
    table = page.locator("#incomplete-days")
    expect(table.locator("th").last).to_have_text("Missing (Central time)")
    expect(table).to_contain_text("18:00–22:00 (16)")
    expect(table).not_to_contain_text("00:00–04:00")
    expect(table).to_contain_text("whole day (96)")
    expect(table.locator("tbody tr")).to_have_count(2)  # not the week before the first reading
    shoot(page, "staff-usage-summary-gaps")


def test_a_customer_sending_bytes_smt_already_delivered_is_told_so_without_that_files_details(
    page: Page, live_server, customer_user
):
    House.objects.create(customer=customer_user, name="12 Oak St", esiid=OWN, meter="M7")
    sample = SMT_SAMPLES / "portal-IntervalData-2025-11-02-fall-back.csv"
    store([sample.read_text()], "smt-mirror.csv", origin="mirror")  # SMT's own copy of the same bytes
    sign_in(page, live_server, "customer", "customer-pass-123")
    page.goto(f"{live_server.url}/customer/smt-upload")
    page.set_input_files("input[name=file]", str(sample))
    page.click("#upload-form button[type=submit]")
    result = page.locator("#upload-result")
    expect(result).to_contain_text("This file is stored already: its readings show on your usage page")
    expect(result).not_to_contain_text("undefined")
    expect(result).not_to_contain_text("smt-mirror.csv")
    expect(result.get_by_role("link", name="Your usage")).to_have_attribute("href", "/customer/usage")
    shoot(page, "customer-upload-stored-already")
