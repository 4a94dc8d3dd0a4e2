"""The customer's own uploads: outcomes in words, My uploads, the polled fragment, the usage range."""

import io

import pytest
from django.contrib.auth import get_user_model

from smt import customer_uploads
from smt.models import House, RawSmtFile
from tests.conftest import SMT_SAMPLES

pytestmark = pytest.mark.django_db
OWN = "10443720000000002"


@pytest.fixture
def house(customer_user):
    return House.objects.create(customer=customer_user, name="12 Oak St", esiid=OWN, meter="M7")


def upload(client, name: str) -> dict:
    handle = io.BytesIO((SMT_SAMPLES / name).read_bytes())
    handle.name = name
    response = client.post("/customer/smt-upload", {"file": handle})
    assert response.status_code == 201, response.content
    return response.json()


def test_the_upload_response_points_at_the_polled_outcome(customer_client, house):
    body = upload(customer_client, "portal-IntervalData-2025-11-02-fall-back.csv")
    assert body["statusUrl"] == f"/customer/uploads/{body['rawId']}/"
    fragment = customer_client.get(body["statusUrl"], headers={"HX-Request": "true"})
    html = fragment.content.decode()
    assert "100 readings for Nov 2, 2025 added" in html and "<html" not in html
    assert "hx-trigger" not in html  # done: the polling stops
    assert "HX-Request" in fragment["Vary"]
    assert "?start=2025-10-27&amp;end=2025-11-02" in html


def test_a_pending_upload_keeps_polling(customer_client, house, customer_user):
    body = upload(customer_client, "portal-IntervalData-2025-11-02-fall-back.csv")
    RawSmtFile.objects.filter(pk=body["rawId"]).update(status=RawSmtFile.Status.RECEIVED)
    html = customer_client.get(body["statusUrl"], headers={"HX-Request": "true"}).content.decode()
    assert "reading your file now" in html and 'hx-trigger="every 1s"' in html


def test_revised_readings_are_counted_in_words(customer_user):
    raw = RawSmtFile(
        status=RawSmtFile.Status.NORMALIZED,
        stats={
            "intervalsInserted": 96,
            "intervalsUpdated": 4,
            "tsMin": "2025-11-02T05:00:00Z",
            "tsMax": "2025-11-03T05:45:00Z",
        },
    )
    assert customer_uploads.upload_outcome(raw).text == "96 readings for Nov 2, 2025 added; 4 revised"


def test_a_failed_upload_says_why_and_a_repeat_says_nothing_new():
    failed = customer_uploads.upload_outcome(RawSmtFile(status=RawSmtFile.Status.FAILED, error="row 3: bad date"))
    assert (failed.ok, failed.text) == (False, "Not added: row 3: bad date")
    same = RawSmtFile(
        status=RawSmtFile.Status.NORMALIZED,
        stats={"validRows": 96, "tsMin": "2025-12-14T06:00:00Z", "tsMax": "2025-12-15T05:45:00Z"},
    )
    assert customer_uploads.upload_outcome(same).text == "Nothing new: we already had all 96 readings for Dec 14, 2025"


def test_days_label_spans_months_and_years():
    from datetime import date

    assert customer_uploads.days_label(date(2025, 11, 1), date(2025, 12, 3)) == "Nov 1 – Dec 3, 2025"
    assert customer_uploads.days_label(date(2024, 12, 30), date(2025, 1, 2)) == "Dec 30, 2024 – Jan 2, 2025"


def test_my_uploads_lists_my_files_only(customer_client, house, client):
    upload(customer_client, "portal-IntervalData-2025-12-14-estimated.csv")
    page = customer_client.get("/customer/uploads/").content.decode()
    assert "portal-IntervalData-2025-12-14-estimated.csv" in page and "96 readings for Dec 14, 2025 added" in page
    other = get_user_model().objects.create_user("neighbour", password="neighbour-pass-1")
    client.force_login(other)
    assert "estimated.csv" not in client.get("/customer/uploads/").content.decode()


def test_another_customer_gets_404_for_my_upload(customer_client, house, client):
    body = upload(customer_client, "portal-IntervalData-2025-12-14-estimated.csv")
    client.force_login(get_user_model().objects.create_user("neighbour", password="neighbour-pass-1"))
    assert client.get(body["statusUrl"]).status_code == 404


def test_upload_pages_refuse_post_staff_and_anonymous(customer_client, staff_user, house):
    body = upload(customer_client, "portal-IntervalData-2025-12-14-estimated.csv")
    assert customer_client.post(body["statusUrl"]).status_code == 405
    assert customer_client.post("/customer/uploads/").status_code == 405
    customer_client.logout()
    assert customer_client.get(body["statusUrl"]).status_code == 302  # to the login page
    customer_client.force_login(staff_user)
    assert customer_client.get(body["statusUrl"]).status_code == 403


def test_the_usage_range_shows_the_chosen_days(customer_client, house):
    upload(customer_client, "portal-IntervalData-2025-11-02-fall-back.csv")
    page = customer_client.get("/customer/usage?start=2025-10-01&end=2025-11-30").content.decode()
    assert 'data-date="2025-10-01"' in page and 'data-date="2025-11-30"' in page
    assert "used, Oct 1 – Nov 30, 2025" in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=2025-11-30&end=2025-11-01", "&#x27;From&#x27; must not be after &#x27;To&#x27;."),
        ("start=2025-11-01", "Choose both a &#x27;From&#x27; and a &#x27;To&#x27; day, or neither."),
        ("start=2023-01-01&end=2025-01-01", "Choose at most a year at a time."),
        ("start=yesterday&end=2025-01-01", "From: Enter a valid date."),
    ],
)
def test_a_bad_range_gets_400_naming_the_problem(customer_client, house, query, message):
    response = customer_client.get(f"/customer/usage?{query}")
    assert response.status_code == 400
    assert message in response.content.decode()


def test_a_customer_without_data_gets_guidance_not_zeros(customer_client, house):
    page = customer_client.get("/customer/usage").content.decode()
    assert "We have no readings for this home yet" in page and "Upload your first export" in page
    assert "0.0 kWh" not in page and "<svg" not in page
