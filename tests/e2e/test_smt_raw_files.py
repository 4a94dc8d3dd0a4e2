import re

import pytest
from playwright.sync_api import Page, expect

from smt.models import RawSmtFile, SmtInterval
from tests.conftest import SMT_SAMPLES

pytestmark = [pytest.mark.e2e]


def sign_in(page: Page, live_server, user: str, password: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_staff_upload_with_progress_normalizes_and_shows_detail(page: Page, live_server, staff_user, qcluster):
    sign_in(page, live_server, "staff", "staff-pass-123")
    expect(page).to_have_url(re.compile(r"/smt/raw-files/$"))
    expect(page.locator(".empty")).to_contain_text("No raw files")

    page.set_input_files("input[name=file]", str(SMT_SAMPLES / "portal-IntervalData-2025-11-02-fall-back.csv"))
    page.fill("input[name=esiid]", "10443720000000002")
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#upload-progress")).to_be_visible()
    expect(page.locator("#upload-result")).to_contain_text("Stored")
    assert page.locator("#upload-progress").get_attribute("value") == "100"

    # The table refreshes itself until the worker has normalized the file.
    row = page.locator("#raw-files tbody tr").first
    expect(row).to_contain_text("portal-IntervalData-2025-11-02-fall-back.csv")
    expect(row.locator(".badge")).to_have_text(re.compile("normalized", re.I), timeout=20_000)
    expect(row).to_contain_text("100")
    assert SmtInterval.objects.count() == 100

    page.click("#normalize-latest")
    expect(page.locator(".messages")).to_contain_text("queued")
    expect(page.locator("#raw-files tbody tr").first.locator(".badge")).to_have_text(
        re.compile("normalized", re.I), timeout=20_000
    )

    page.locator("#raw-files a", has_text="portal-IntervalData-2025-11-02-fall-back.csv").click()
    expect(page).to_have_url(re.compile(r"/smt/raw-files/\d+/$"))
    expect(page.locator("h1")).to_have_text("portal-IntervalData-2025-11-02-fall-back.csv")
    expect(page.locator("#status")).to_have_text("normalized")
    page.click("#dry-run-button")
    expect(page.locator("#dry-run")).to_contain_text("Dry run (nothing written)")
    expect(page.locator("#dry-run")).to_contain_text("100")  # all duplicates now
    with page.expect_download() as download:
        page.click("text=Download raw file")
    assert (
        open(download.value.path(), "rb").read()
        == (SMT_SAMPLES / "portal-IntervalData-2025-11-02-fall-back.csv").read_bytes()
    )
    assert RawSmtFile.objects.get().status == "normalized"


def test_refused_upload_shows_the_reason_in_place(page: Page, live_server, staff_user, tmp_path):
    bad = tmp_path / "notes.csv"
    bad.write_text("date,usage\n2025-01-01,1\n")
    sign_in(page, live_server, "staff", "staff-pass-123")
    page.set_input_files("input[name=file]", str(bad))
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#upload-result")).to_contain_text("Upload refused (422)")
    expect(page.locator("#upload-result")).to_contain_text("no SMT interval header")
    assert RawSmtFile.objects.count() == 0
