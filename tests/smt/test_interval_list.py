"""The intervals page: one order, sortable columns, count and sum, and a delete form filled from the filter."""

import re

import pytest
from django.db import connection, transaction

from smt import normalize
from smt.models import SmtInterval
from smt.views.intervals import interval_list_order
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


def test_an_esiids_list_shows_the_newest_interval_first(staff_client, day):
    times = utc_column(staff_client.get("/smt/intervals/", {"esiid": ESIID}).content.decode())
    assert times[0] == "2025-12-15 05:45Z" and times == sorted(times, reverse=True)


def test_the_unfiltered_list_shows_the_newest_stored_rows_first(staff_client, day):
    older_day = day_file("0.5", "12/20/2025 07:38:23").replace(b"12/14/2025", b"12/01/2025")
    normalize.raw_file_normalize(raw_file=store(older_day, name="older.csv", meter="M7"))

    times = utc_column(staff_client.get("/smt/intervals/").content.decode())

    assert times[0] == "2025-12-02 05:45Z"  # stored last: its newest row leads, though 12/14 is newer
    assert times[:96] == sorted(times[:96], reverse=True)


@pytest.mark.parametrize("query", [{}, {"esiid": ESIID}])
def test_the_first_page_is_read_from_an_index_not_by_sorting_every_partition(day, query):
    rows = SmtInterval.objects.filter(**query).order_by(*interval_list_order(query))
    with transaction.atomic(), connection.cursor() as cursor:
        # Ask for the plan an index can give; a sort of every row remains a Sort node if none can.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        plan = rows[:101].explain()
    nodes = [line.strip().removeprefix("->").strip() for line in plan.splitlines()]
    # An Incremental Sort after the Merge Append orders only rows of one ts; a Sort node orders them all.
    assert not [n for n in nodes if re.match(r"Sort\s+\(", n)], plan
    assert "Merge Append" in plan and "Index" in plan, plan


def test_headers_sort_the_list(staff_client, day):
    html = staff_client.get("/smt/intervals/", {"esiid": ESIID, "sort": "ts"}, headers=HX).content.decode()
    assert utc_column(html)[0] == "2025-12-14 06:00Z"
    assert 'href="?esiid=10443720000000002&amp;sort=-ts"' in html  # the next click reverses it
    assert "?esiid=10443720000000002&amp;sort=kwh" in html


def test_a_filter_shows_how_many_intervals_match_and_their_kwh_sum(staff_client, day):
    html = staff_client.get(
        "/smt/intervals/", {"esiid": ESIID, "local_from": "2025-12-14", "local_to": "2025-12-14"}, headers=HX
    )
    text = html.content.decode()
    assert re.search(r'id="interval-totals"><b>96</b> intervals match · <b>12.000</b> kWh', text)


def test_delete_a_range_from_a_filtered_list_is_prefilled_with_its_esiid_meter_and_days(staff_client, day):
    html = staff_client.get(
        "/smt/intervals/", {"esiid": ESIID, "utc_from": "2025-12-14T06:00", "utc_to": "2025-12-15T06:00"}
    ).content.decode()
    link = re.search(r'id="delete-range" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert link == f"/smt/intervals/delete?prefill=1&esiid={ESIID}&meter=M7&start=2025-12-14&end=2025-12-14"
    form = staff_client.get(link).content.decode()
    assert f'value="{ESIID}"' in form and 'value="M7"' in form and 'value="unknown"' not in form
    assert 'value="2025-12-14"' in form and 'id="preview"' not in form  # filled in, nothing previewed yet
