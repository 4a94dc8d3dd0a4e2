"""The intervals page: one order, sortable columns, count and sum, and a delete form filled from the filter."""

import re

import pytest

from smt import normalize
from tests.smt.conftest import day_file, store

pytestmark = pytest.mark.django_db
ESIID = "10443720000000002"
HX = {"HX-Request": "true"}


@pytest.fixture
def day():
    raw = store(day_file("0.125", "12/15/2025 07:38:23"), meter="M7")
    normalize.raw_file_normalize(raw_file=raw)


def utc_column(html: str) -> list[str]:
    return re.findall(r"<td>(\d{4}-\d\d-\d\d \d\d:\d\dZ)</td>", html)


def test_filtered_and_unfiltered_lists_both_show_the_newest_interval_first(staff_client, day):
    for query in ({}, {"esiid": ESIID}):
        times = utc_column(staff_client.get("/smt/intervals/", query).content.decode())
        assert times[0] == "2025-12-15 05:45Z" and times == sorted(times, reverse=True), query


def test_headers_sort_the_list(staff_client, day):
    html = staff_client.get("/smt/intervals/", {"esiid": ESIID, "sort": "ts"}, headers=HX).content.decode()
    assert utc_column(html)[0] == "2025-12-14 06:00Z"
    assert 'href="?esiid=10443720000000002&amp;sort=-ts"' in html  # the next click reverses it
    assert "?esiid=10443720000000002&amp;sort=kwh" in html


def test_a_filter_shows_how_many_intervals_match_and_their_kwh_sum(staff_client, day):
    html = staff_client.get("/smt/intervals/", {"esiid": ESIID, "local_from": "2025-12-14", "local_to": "2025-12-14"}, headers=HX)
    text = html.content.decode()
    assert re.search(r'id="interval-totals"><b>96</b> intervals match · <b>12.000</b> kWh', text)


def test_delete_a_range_from_a_filtered_list_is_prefilled_with_its_esiid_meter_and_days(staff_client, day):
    html = staff_client.get("/smt/intervals/", {"esiid": ESIID, "utc_from": "2025-12-14T06:00", "utc_to": "2025-12-15T06:00"}).content.decode()
    link = re.search(r'id="delete-range" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert link == f"/smt/intervals/delete?prefill=1&esiid={ESIID}&meter=M7&start=2025-12-14&end=2025-12-14"
    form = staff_client.get(link).content.decode()
    assert f'value="{ESIID}"' in form and 'value="M7"' in form and 'value="unknown"' not in form
    assert 'value="2025-12-14"' in form and 'id="preview"' not in form  # filled in, nothing previewed yet
