"""/api/admin/ercot/cron and /cron/health: who may call them and what they answer."""

import pytest
from django.test import Client

from ercot.models import ErcotIngest
from tests.ercot.conftest import MisDoc, constructed, extract_row, make_zip

pytestmark = pytest.mark.django_db
CRON = "/api/admin/ercot/cron"


@pytest.fixture
def one_doc(mis):
    doc = MisDoc("1001", constructed("2026-06-03", "ONCOR_ELEC___DAILY"), make_zip(extract_row("10443720000000001")))
    mis.docs.append(doc)
    return doc


@pytest.mark.parametrize(
    "query, headers",
    [
        ("", {}),
        ("?token=wrong", {}),
        ("?token=", {}),
        ("", {"HTTP_X_TEST_CRON": "no"}),
        ("", {"HTTP_X_ADMIN_TOKEN": "nope"}),
    ],
)
def test_cron_refuses_a_missing_or_wrong_token(client, mis, one_doc, query, headers):
    response = client.get(CRON + query, **headers)
    assert response.status_code == 401
    assert ErcotIngest.objects.count() == 0
    assert mis.requests == []  # nothing was listed


@pytest.mark.parametrize(
    "query, headers",
    [
        ("?token=test-cron-secret", {}),
        ("", {"HTTP_X_TEST_CRON": "yes"}),
        ("", {"HTTP_X_ADMIN_TOKEN": "test-admin-token"}),
    ],
)
def test_cron_fetches_for_the_secret_the_scheduler_header_or_the_admin_token(client, one_doc, query, headers):
    response = client.get(CRON + query, **headers)
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["method"] == "mis"
    assert body["results"] == [{"key": f"ercot/2026-06-03/{one_doc.name}", "bytes": len(one_doc.body)}]
    again = client.get(CRON + query, **headers).json()
    assert again["results"] == [{"key": f"ercot/2026-06-03/{one_doc.name}", "skipped": True}]


def test_cron_reports_a_failed_file_with_its_name_and_502(client, mis):
    mis.docs.append(MisDoc("1001", constructed("2026-06-03", "ONCOR_ELEC___DAILY"), b"<html>maintenance</html>"))
    response = client.get(CRON + "?token=test-cron-secret")
    assert response.status_code == 502
    [result] = response.json()["results"]
    assert result["name"].endswith("ONCOR_ELEC___DAILY.zip") and "PK" in result["error"]


def test_health_names_each_missing_variable_and_downloads_nothing(client, settings, mis):
    settings.ERCOT_SUBSCRIPTION_KEY = "key"
    response = client.get(CRON + "/health?token=test-cron-secret")
    assert response.status_code == 200
    assert response.json() == {
        "ok": False,
        "method": "mis",
        "missing": ["ERCOT_USERNAME", "ERCOT_PASSWORD"],
        "methods": ["mis"],
    }
    assert mis.requests == []


def test_health_refuses_without_a_token(client):
    assert client.get(CRON + "/health").status_code == 401


def test_cron_header_without_a_value_accepts_true(client, settings, one_doc):
    settings.CRON_HEADER = "X-Appengine-Cron"
    assert client.get(CRON, HTTP_X_APPENGINE_CRON="true").status_code == 200
    assert client.get(CRON, HTTP_X_APPENGINE_CRON="false").status_code == 401


def test_cron_accepts_the_secret_in_the_x_cron_token_header(client, one_doc):
    assert client.get(CRON, HTTP_X_CRON_TOKEN="test-cron-secret").status_code == 200
    assert client.get(CRON, HTTP_X_CRON_TOKEN="wrong").status_code == 401


def test_a_staff_session_cannot_fetch_with_a_get(staff_client, mis, one_doc):
    response = staff_client.get(CRON)
    assert response.status_code == 401
    assert ErcotIngest.objects.count() == 0 and mis.requests == []


def test_a_staff_session_post_without_csrf_is_refused(staff_user, mis, one_doc):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff_user)
    response = browser.post(CRON)
    assert response.status_code in (401, 403)
    assert ErcotIngest.objects.count() == 0 and mis.requests == []


def test_a_staff_session_post_with_csrf_fetches(staff_user, one_doc):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff_user)
    browser.get("/ercot/")  # the page sets the CSRF cookie, as a browser would receive it
    token = browser.cookies["csrftoken"].value
    response = browser.post(CRON, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    assert response.json()["results"] == [{"key": f"ercot/2026-06-03/{one_doc.name}", "bytes": len(one_doc.body)}]
