import io
import json

import pytest
from django.contrib.auth import get_user_model

from smt import customers
from smt.models import House, RawSmtFile, SmtInterval
from tests.conftest import SMT_SAMPLES

pytestmark = pytest.mark.django_db
OWN = "10443720000000002"


@pytest.fixture
def house(customer_user):
    return House.objects.create(customer=customer_user, name="12 Oak St", esiid=OWN, meter="M7")


def upload(client, name: str, data: bytes | None = None):
    handle = io.BytesIO(data if data is not None else (SMT_SAMPLES / name).read_bytes())
    handle.name = name
    return client.post("/customer/smt-upload", {"file": handle})


def test_customer_uploads_own_export_and_sees_it(customer_client, house):
    response = upload(customer_client, "portal-IntervalData-2025-12-14-estimated.csv")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["remaining"] == 4
    raw = RawSmtFile.objects.get(pk=body["rawId"])
    assert raw.uploader == "customer:customer" and raw.status == "normalized"
    assert SmtInterval.objects.filter(esiid=OWN, meter="M7").count() == 96
    page = customer_client.get("/customer/usage")
    assert page.status_code == 200 and b"12 Oak St" in page.content and b"<svg" in page.content


def test_foreign_esiids_are_refused_by_name_and_nothing_is_stored(customer_client, house):
    response = upload(customer_client, "portal-IntervalData-2022-excerpt.csv")
    assert response.status_code == 422
    assert "10443720000000001" in response.json()["error"] and "not yours" in response.json()["error"]
    assert RawSmtFile.objects.count() == 0 and SmtInterval.objects.count() == 0


def test_mixed_file_with_one_foreign_esiid_is_refused_whole(customer_client, house):
    own = (SMT_SAMPLES / "portal-IntervalData-2025-12-14-estimated.csv").read_bytes()
    foreign = (SMT_SAMPLES / "excel-resaved-IntervalData-excerpt.csv").read_bytes().split(b"\n", 1)[1]
    response = upload(customer_client, "mixed.csv", own + foreign)
    assert response.status_code == 422 and "10443720000000003" in response.json()["error"]
    assert RawSmtFile.objects.count() == 0


def test_monthly_quota_is_enforced_and_shown(customer_client, house, settings):
    settings.SMT_CUSTOMER_UPLOADS_PER_MONTH = 1
    assert upload(customer_client, "portal-IntervalData-2025-12-14-estimated.csv").status_code == 201
    assert b'id="uploads-left">0<' in customer_client.get("/customer/smt-upload").content
    response = upload(customer_client, "portal-IntervalData-2025-11-02-fall-back.csv")
    assert response.status_code == 429 and "quota" in response.json()["error"]


def test_upload_needs_sign_in_and_is_not_for_staff(client, staff_client):
    assert upload(client, "portal-IntervalData-2025-12-14-estimated.csv").status_code in (401, 403)


def test_usage_refresh_returns_the_house_summary_and_404s_for_others(customer_client, house):
    upload(customer_client, "portal-IntervalData-2025-12-14-estimated.csv")
    response = customer_client.post(
        "/api/user/usage/refresh", json.dumps({"houseId": house.pk, "esiid": OWN}), content_type="application/json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] and body["houseId"] == house.pk and body["lastUpload"] is not None
    # An old export of one day: the window ends at its newest day and starts at its first, so
    # the chart is neither 90 empty days nor 1% complete.
    assert body["dateStart"] == body["dateEnd"] == "2025-12-14" and body["latestDay"] == "2025-12-14"
    assert [d["found"] for d in body["days"]] == [96] and body["completeness"] == 1.0 and body["kwh"] > 0
    other = get_user_model().objects.create_user("neighbour", password="neighbour-pass-1")
    customer_client.force_login(other)
    response = customer_client.post(
        "/api/user/usage/refresh", json.dumps({"houseId": house.pk, "esiid": OWN}), content_type="application/json"
    )
    assert response.status_code == 404


def test_staff_add_a_customer_house(staff_client):
    response = staff_client.post(
        "/smt/customers/",
        {
            "username": "newcust",
            "email": "n@example.test",
            "name": "Elm St",
            "esiid": "'10443720000000009",
            "meter": "",
        },
    )
    assert response.status_code == 200 and b'id="new-password"' in response.content  # a new account: its password, once
    house = House.objects.get()
    assert house.customer.username == "newcust" and house.esiid == "10443720000000009" and not house.customer.is_staff
    bad = staff_client.post("/smt/customers/", {"username": "x", "name": "y", "esiid": "123"})
    assert bad.status_code == 400 and b"17 or 22 digits" in bad.content and House.objects.count() == 1


def test_a_house_for_a_staff_account_or_a_second_house_with_the_same_esiid_is_refused_on_the_page(
    staff_client, staff_user
):
    staff = staff_client.post(
        "/smt/customers/", {"username": staff_user.username, "email": "", "name": "Oak", "esiid": "10443720000000009"}
    )
    assert staff.status_code == 400 and b"That is a staff account" in staff.content and House.objects.count() == 0
    form = {"username": "newcust", "email": "", "name": "Elm St", "esiid": "10443720000000009", "meter": ""}
    assert staff_client.post("/smt/customers/", form).status_code == 200
    again = staff_client.post("/smt/customers/", form | {"name": "Elm St again"})
    assert (
        again.status_code == 400
        and b"already has a house with that ESIID" in again.content
        and House.objects.count() == 1
    )


def test_house_create_gives_a_new_customer_a_one_time_password_and_an_existing_one_none(db):
    house, password = customers.house_create(
        username="newcust", email="n@example.test", name="Elm", esiid="10443720000000009", meter=""
    )
    assert password and house.customer.check_password(password) and not house.customer.is_staff
    second, again = customers.house_create(
        username="newcust", email="", name="Oak", esiid="10443720000000010", meter="M1"
    )
    assert again == "" and second.customer == house.customer and House.objects.count() == 2


def test_a_new_customers_password_is_shown_in_the_page_once_and_never_stored_in_a_message(staff_client):
    form = {"username": "newcust", "email": "", "name": "Elm St", "esiid": "10443720000000009", "meter": ""}
    response = staff_client.post("/smt/customers/", form)
    password = response.content.decode().split('id="new-password">')[1].split("<")[0]
    assert House.objects.get().customer.check_password(password)
    assert password not in str([str(m) for m in response.context["messages"]])
    assert "added for newcust" in response.content.decode()
    assert password not in staff_client.get("/smt/customers/").content.decode()


def test_adding_a_house_for_a_de_energized_esiid_warns(staff_client):
    from ercot.models import EsiidRecord

    EsiidRecord.objects.create(
        esiid="10443720000000009",
        address="1 ELM ST",
        tdsp="ONCOR_ELEC",
        status="De-Energized",
        posted_at="2026-06-03T10:52:00Z",
    )
    page = staff_client.post(
        "/smt/customers/",
        {"username": "newcust", "email": "", "name": "Elm St", "esiid": "10443720000000009", "meter": ""},
    )
    page = page.content.decode()
    assert 'class="msg-warning">ESIID 10443720000000009:' in page and "De-Energized" in page
