"""The ERCOT page's 31-day strip has month labels; ESIID lookup results lead to their usage."""

from datetime import date

import pytest

from ercot.models import EsiidRecord
from ercot.views import day_strip

pytestmark = pytest.mark.django_db


def test_the_strip_labels_each_month_over_its_days():
    strip = day_strip(today=date(2026, 12, 6))
    assert [(m["label"], m["span"]) for m in strip["months"]] == [("Nov 2026", 25), ("Dec 2026", 6)]


def test_the_page_shows_the_month_labels(staff_client):
    from tests.ercot.test_pages import stored

    stored("1", date.today(), "ONCOR_ELEC")
    html = staff_client.get("/ercot/").content.decode()
    assert '<tr class="months">' in html and 'scope="colgroup"' in html


def test_an_esiid_lookup_result_links_to_that_esiids_usage(staff_client):
    EsiidRecord.objects.create(
        esiid="10443720000000002",
        address="1 MAIN ST",
        city="DALLAS",
        zipcode="75201",
        tdsp="ONCOR_ELEC",
        status="Active",
        posted_at="2026-06-03T10:52:00Z",
    )
    html = staff_client.get("/ercot/esiids/", {"q": "1044372"}).content.decode()
    assert '<a href="/smt/usage/?esiid=10443720000000002" title="Usage of this ESIID">10443720000000002</a>' in html
