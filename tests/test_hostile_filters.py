"""Every staff list, filter and JSON GET URL, fed hostile filter values, answers without a 500.

A NUL character, the ends of the calendar (9999-12-31, 0001-01-01) and a 23-digit page number
go into every filter name the project reads. Each answer is a 4xx naming the problem, or a
clean page (the filter ignored, an empty table or the first/last page).
"""

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.test_access import EXPECTED, objects  # noqa: F401  (objects is a fixture)

pytestmark = pytest.mark.django_db

# Every query parameter a staff page, the admin or the JSON API reads.
PARAMS = (
    "q",
    "esiid",
    "meter",
    "classroom",
    "status",
    "status__exact",
    "kind__exact",
    "channel__exact",
    "page",
    "sort",
    "filename",
    "esiid_hint",
    "source",
    "received_after",
    "utc_from",
    "utc_to",
    "local_from",
    "local_to",
    "quality",
    "kind",
    "trigger",
    "date_from",
    "date_to",
    "file_date",
    "tdsp",
    "day",
    "start",
    "end",
    "device",
    "days",
    "date",
    "location",
    "o",
    "p",
)
HOSTILE = {"nul": "10443\x00720", "far-future": "9999-12-31", "year-one": "0001-01-01", "huge-page": "1" * 23}


def staff_get_urls() -> list[str]:
    pages = [
        path for method, path, statuses, *_ in EXPECTED.values() if method == "get" and statuses.get("staff") == 200
    ]
    changelists = [reverse(f"admin:{m._meta.app_label}_{m._meta.model_name}_changelist") for m in admin.site._registry]
    return sorted(pages) + sorted(changelists)


def with_params(path: str, value: str) -> dict[str, str]:
    return dict.fromkeys(PARAMS, value)


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_no_staff_url_answers_500_to_hostile_filter_values(kind, client, staff_user, customer_user, objects):  # noqa: F811
    client.force_login(staff_user)
    client.raise_request_exception = False
    failures = []
    for path in staff_get_urls():
        url = path.format(**objects).split("?")[0]
        response = client.get(url, with_params(url, HOSTILE[kind]))
        named = response.status_code == 400 and "query parameter" in response.content.decode()
        if response.status_code >= 500 or (response.status_code == 400 and not named):
            failures.append(f"{url}: {response.status_code}")
    assert not failures, failures


@pytest.mark.parametrize(
    "query, problem",
    [
        ({"q": "1044\x00"}, "query parameter 'q' contains a NUL character"),
        ({"esiid": "\x00"}, "query parameter 'esiid' contains a NUL character"),
        ({"local_to": "9999-12-31"}, "query parameter 'local_to': dates must fall between 1900-01-01 and 2199-12-31"),
        (
            {"utc_from": "0001-01-01T00:00"},
            "query parameter 'utc_from': dates must fall between 1900-01-01 and 2199-12-31",
        ),
        ({"page": "1" * 23}, "query parameter 'page' must be a page number up to 1000000"),
    ],
)
def test_a_hostile_filter_value_gets_a_400_naming_the_parameter(staff_client, query, problem):
    response = staff_client.get("/smt/intervals/", query)
    assert response.status_code == 400
    assert response.content.decode() == problem


def test_the_json_api_names_the_parameter_in_its_error_body(staff_client):
    response = staff_client.get("/api/power-analytics/summary", {"classroom": "Room\x00101"})
    assert response.status_code == 400
    assert response.json() == {"ok": False, "error": "query parameter 'classroom' contains a NUL character"}


def test_ordinary_dates_and_pages_still_filter(staff_client):
    response = staff_client.get("/smt/intervals/", {"local_from": "2025-01-02", "page": "3"})
    assert response.status_code == 200
