import hashlib
import io

import pytest

from smt import normalize, storage
from smt.models import IntervalDeletion, SmtInterval
from tests.conftest import SMT_SAMPLES

pytestmark = pytest.mark.django_db


@pytest.fixture
def loaded():
    data = (SMT_SAMPLES / "portal-IntervalData-2025-11-02-fall-back.csv").read_bytes()
    raw = storage.raw_file_store(
        fileobj=io.BytesIO(data),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        filename="fb.csv",
        meter="M1",
        origin="staff",
    ).raw_file
    normalize.raw_file_normalize(raw_file=raw)
    return raw


def test_interval_page_shows_local_and_utc_with_source_links(staff_client, loaded):
    page = staff_client.get("/smt/intervals/?esiid=10443720000000002&local_from=2025-11-02&local_to=2025-11-02")
    html = page.content.decode()
    assert page.status_code == 200
    assert "2025-11-02 01:00 CDT" in html
    assert "2025-11-02 01:00 CST" in html
    assert "2025-11-02 06:00Z" in html
    assert f"file #{loaded.pk} row 2" in html
    fragment = staff_client.get("/smt/intervals/?esiid=10443720000000002", headers={"HX-Request": "true"})
    assert b"<html" not in fragment.content and b'id="interval-table"' in fragment.content
    assert "HX-Request" in fragment["Vary"]


def test_csv_export_streams_the_filtered_rows(staff_client, loaded):
    response = staff_client.get("/smt/intervals/export.csv?esiid=10443720000000002&channel=consumption")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert response["Content-Type"] == "text/csv" and len(lines) == 101
    assert lines[1].startswith(
        "10443720000000002,M1,consumption,2025-11-02T05:00:00+00:00,2025-11-02T00:00:00-05:00,0.434,actual"
    )


def test_delete_page_previews_then_deletes_and_audits(staff_client, loaded):
    query = {
        "esiid": "10443720000000002",
        "meter": "M1",
        "start": "2025-11-02",
        "end": "2025-11-02",
        "reason": "double load",
    }
    preview = staff_client.get("/smt/intervals/delete", query)
    assert b'id="preview-count">100<' in preview.content and SmtInterval.objects.count() == 100
    response = staff_client.post("/smt/intervals/delete", query)
    assert response.status_code == 302 and SmtInterval.objects.count() == 0
    audit = IntervalDeletion.objects.get()
    assert audit.actor == "user:staff" and audit.deleted_count == 100 and audit.reason == "double load"
    assert b"double load" in staff_client.get("/smt/deletions/").content


def test_delete_form_errors_name_the_field_and_delete_nothing(staff_client, loaded):
    response = staff_client.post(
        "/smt/intervals/delete", {"esiid": "12", "meter": "M1", "start": "2025-11-03", "end": "2025-11-02"}
    )
    assert response.status_code == 200 and b"17 or 22 digits" in response.content and SmtInterval.objects.count() == 100


def test_usage_page_draws_heatmap_bars_and_days(staff_client, loaded):
    page = staff_client.get("/smt/usage/?esiid=10443720000000002&start=2025-11-01&end=2025-11-03")
    html = page.content.decode()
    assert 'class="heatmap"' in html and 'class="bars"' in html and 'data-date="2025-11-02"' in html
    assert "2025-11-02: 100/100 intervals (100%)" in html
    assert staff_client.get("/smt/usage/?esiid=abc").status_code == 200  # form error shown, no 500


def test_portfolio_lists_esiids(staff_client, loaded):
    page = staff_client.get("/smt/usage/portfolio?days=7")
    assert page.status_code == 200 and b"10443720000000002" in page.content
    assert staff_client.get("/smt/usage/portfolio?days=abc").status_code == 200


def test_percent_never_rounds_an_incomplete_range_up_to_100():
    from smt.templatetags.smt_format import percent

    assert [percent(1), percent(35024 / 35040), percent(80 / 96), percent(0), percent(None)] == [
        "100%",
        "99.9%",
        "83.3%",
        "0%",
        "–",
    ]


def test_interval_pages_do_not_claim_a_page_count_they_never_counted(staff_client, loaded):
    html = staff_client.get("/smt/intervals/?esiid=10443720000000002&per_page=25").content.decode()
    assert "Page 1</span>" in html and "Next ›" in html and "Page 1 of" not in html
