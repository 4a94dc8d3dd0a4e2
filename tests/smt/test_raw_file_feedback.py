"""What the raw-file pages tell staff after an upload through the real endpoint (issue 13, item 4)."""

import io
import re

import pytest

from smt.models import RawSmtFile
from tests.smt.conftest import day_file

pytestmark = pytest.mark.django_db
ESIID = "10443720000000002"


def upload(client, data: bytes, name: str) -> RawSmtFile:
    fileobj = io.BytesIO(data)
    fileobj.name = name
    response = client.post("/upload", {"file": fileobj, "source": "admin-upload"})  # no ESIID given
    assert response.status_code == 201, response.content
    return RawSmtFile.objects.get(pk=response.json()["rawId"])


def test_a_file_uploaded_without_an_esiid_shows_and_filters_by_the_esiid_it_holds(staff_client):
    raw = upload(staff_client, day_file("0.100", "12/15/2025 07:38:23"), "old.csv")
    assert raw.esiid_hint == ""
    html = staff_client.get("/smt/raw-files/").content.decode()
    assert f'<span title="{ESIID}">{ESIID}</span>' in html
    found = staff_client.get(
        "/smt/raw-files/", {"esiid_hint": ESIID[:12]}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "old.csv" in found
    other = staff_client.get(
        "/smt/raw-files/", {"esiid_hint": "1008901"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "old.csv" not in other


def test_a_reupload_that_revised_rows_shows_them_as_updated_in_the_list(staff_client):
    upload(staff_client, day_file("0.100", "12/15/2025 07:38:23"), "old.csv")
    upload(staff_client, day_file("0.200", "12/17/2025 9:00"), "new.csv")
    html = staff_client.get("/smt/raw-files/").content.decode()
    assert re.search(r"<th[^>]*>\s*Updated\s*</th>", html)
    row = next(r for r in html.split("<tr") if "new.csv" in r)
    cells = [c.split(">", 1)[1].split("</td>")[0].strip() for c in row.split("<td")[1:]]
    assert cells[-3:] == ["0", "96", "0"]  # inserted, updated, errors


def test_the_detail_page_links_to_the_files_intervals_and_usage(staff_client):
    raw = upload(staff_client, day_file("0.100", "12/15/2025 07:38:23"), "old.csv")
    html = staff_client.get(f"/smt/raw-files/{raw.pk}/").content.decode()
    intervals = f"/smt/intervals/?esiid={ESIID}&amp;utc_from=2025-12-14T06%3A00&amp;utc_to=2025-12-15T06%3A00"
    usage = f"/smt/usage/?esiid={ESIID}&amp;start=2025-12-14&amp;end=2025-12-14"
    assert intervals in html and usage in html
    listed = staff_client.get(intervals.replace("&amp;", "&")).content.decode()
    assert listed.count("<tr class=") == 96


def test_received_times_in_the_list_carry_their_zone(staff_client):
    upload(staff_client, day_file("0.100", "12/15/2025 07:38:23"), "old.csv")
    html = staff_client.get("/smt/raw-files/").content.decode()
    assert " CST</td>" in html or " CDT</td>" in html
