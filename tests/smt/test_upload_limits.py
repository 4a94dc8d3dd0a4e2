"""The upload endpoints under abuse (issue 15, items 4, 5, 8, 10): decompression bombs and
refused attempts, quotas under parallel requests, fields a row cannot hold, CSRF and tokens."""

import gzip
import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.test import Client

from smt import ingest, storage
from smt.models import House, RawSmtFile, UploadRefusal
from tests.conftest import SMT_SAMPLES

GOOD = (SMT_SAMPLES / "portal-IntervalData-2025-12-14-estimated.csv").read_bytes()
HEADER = GOOD.split(b"\n", 1)[0] + b"\n"
OWN = "10443720000000002"
TOKEN = {"HTTP_X_SMT_UPLOAD_TOKEN": "test-upload-token"}
# 20 MB of rows that all fail (a bad kWh) gzip to a few kB: far past 20x the upload.
BOMB = gzip.compress(HEADER + f"'{OWN},12/14/2025,,00:00,00:15,x,A,Consumption\n".encode() * 400_000)


def _send(client, url: str, data: bytes, fields: dict | None = None, **headers):
    handle = io.BytesIO(data)
    handle.name = "IntervalData.csv.gz"
    return client.post(url, {"file": handle, **(fields or {})}, **headers)


def _stored_objects() -> list[Path]:
    root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    return [path for path in root.rglob("*") if path.is_file()]


@pytest.fixture
def customer(client, customer_user):
    House.objects.create(customer=customer_user, name="12 Oak St", esiid=OWN, meter="M7")
    client.force_login(customer_user)
    return client


# ---------------------------------------------------------------- item 4: bombs and refusals


@pytest.mark.django_db
def test_customer_gzip_bomb_is_refused_once_it_expands_past_the_ratio_times_the_upload(customer):
    response = _send(customer, "/customer/smt-upload", BOMB)
    assert response.status_code == 422
    assert "expands past" in response.json()["error"] and "SMT_UPLOAD_EXPAND_RATIO" in response.json()["error"]
    assert RawSmtFile.objects.count() == 0 and _stored_objects() == []


@pytest.mark.django_db
def test_token_upload_of_a_small_bomb_is_refused_at_the_precheck(client):
    response = _send(client, "/upload", BOMB, **TOKEN)
    assert response.status_code == 422 and "expands past" in response.json()["error"]
    assert RawSmtFile.objects.count() == 0


@pytest.mark.django_db
def test_the_absolute_cap_refuses_even_an_uncompressed_customer_file(customer, settings):
    settings.SMT_UPLOAD_EXPAND_MAX_BYTES = 4096
    response = _send(customer, "/customer/smt-upload", GOOD)
    assert response.status_code == 422 and "past 4096 bytes" in response.json()["error"]


@pytest.mark.django_db
def test_an_ordinary_gzip_export_is_still_accepted_from_a_customer(customer):
    response = _send(customer, "/customer/smt-upload", gzip.compress(GOOD))
    assert response.status_code == 201, response.content


@pytest.mark.django_db
def test_refused_customer_uploads_count_against_a_daily_limit(customer, settings):
    settings.SMT_UPLOAD_REFUSALS_PER_DAY = 2
    assert _send(customer, "/customer/smt-upload", BOMB).status_code == 422
    assert _send(customer, "/customer/smt-upload", b"not a csv").status_code == 422
    response = _send(customer, "/customer/smt-upload", GOOD)
    assert response.status_code == 429 and "SMT_UPLOAD_REFUSALS_PER_DAY" in response.json()["error"]
    assert UploadRefusal.objects.filter(uploader="customer:customer").count() == 2
    assert RawSmtFile.objects.count() == 0


# ---------------------------------------------------------------- item 8: fields a row cannot hold


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["meter", "source"])
def test_a_nul_in_a_field_is_a_422_before_anything_is_stored(client, field):
    response = _send(client, "/upload", GOOD, {field: "M\x001"}, **TOKEN)
    assert response.status_code == 422 and f"field '{field}' contains a NUL" in response.json()["error"]
    assert RawSmtFile.objects.count() == 0 and _stored_objects() == []
    assert _send(client, "/upload", GOOD, **TOKEN).status_code == 201


@pytest.mark.django_db
def test_a_nul_in_the_inline_pull_meter_is_a_422_before_anything_is_stored(client):
    import base64

    body = {"mode": "inline", "filename": "x.csv", "meter": "M\u00001", "content_b64": base64.b64encode(GOOD).decode()}
    response = client.post(
        "/api/admin/smt/pull", json.dumps(body), content_type="application/json", HTTP_X_ADMIN_TOKEN="test-admin-token"
    )
    assert response.status_code == 422 and "NUL" in response.content.decode()
    assert RawSmtFile.objects.count() == 0 and _stored_objects() == []


@pytest.mark.django_db
def test_a_failure_after_the_bytes_are_stored_removes_them_again(monkeypatch):
    def refuse(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(storage, "_register", refuse)
    with pytest.raises(RuntimeError):
        storage.raw_file_store(
            fileobj=io.BytesIO(GOOD), sha256="a" * 64, size=len(GOOD), filename="x.csv", origin="staff"
        )
    assert _stored_objects() == []


# ---------------------------------------------------------------- item 10: CSRF and tokens


@pytest.mark.django_db
def test_a_wrong_upload_token_does_not_skip_csrf_for_a_staff_session(staff_user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff_user)
    response = _send(browser, "/upload", GOOD, HTTP_X_SMT_UPLOAD_TOKEN="wrong")
    assert response.status_code == 403 and "CSRF" in response.json()["error"]
    assert RawSmtFile.objects.count() == 0
    assert _send(browser, "/upload", GOOD, **TOKEN).status_code == 201  # a valid token needs no CSRF


@pytest.mark.django_db
def test_a_wrong_upload_token_does_not_skip_csrf_for_a_customer_session(customer_user):
    House.objects.create(customer=customer_user, name="12 Oak St", esiid=OWN)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(customer_user)
    response = _send(browser, "/customer/smt-upload", GOOD, HTTP_X_SMT_UPLOAD_TOKEN="wrong")
    assert response.status_code == 403 and RawSmtFile.objects.count() == 0


# ---------------------------------------------------------------- item 5: quotas under parallel requests


def _parallel_posts(url: str, bodies: list[bytes], headers: dict, cookies: dict | None = None) -> list[int]:
    """POST each body at once from its own thread, released together, over real HTTP."""
    start = threading.Barrier(len(bodies))

    def post(data: bytes) -> int:
        start.wait()
        files = {"file": ("IntervalData.csv", data, "text/csv")}
        return requests.post(url, files=files, headers=headers, cookies=cookies, timeout=60).status_code

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(post, bodies))


@pytest.fixture
def quiet_queue(monkeypatch):
    """No normalization after each upload: the race is in the count and the insert."""
    monkeypatch.setattr(ingest, "raw_file_queue", lambda *, raw_file: "")


def test_parallel_token_uploads_never_pass_the_daily_limit(live_server, settings, quiet_queue):
    settings.SMT_UPLOADS_PER_DAY = 5
    bodies = [GOOD + b"\n" * n for n in range(12)]  # distinct bytes, so none is a duplicate
    statuses = _parallel_posts(f"{live_server.url}/upload", bodies, {"x-smt-upload-token": "test-upload-token"})
    assert sorted(statuses) == [201] * 5 + [429] * 7
    assert RawSmtFile.objects.filter(uploader="token:upload").count() == 5
    assert len(_stored_objects()) == 5


def test_parallel_customer_uploads_never_pass_the_monthly_quota(live_server, settings, customer_user, quiet_queue):
    settings.SMT_CUSTOMER_UPLOADS_PER_MONTH = 5
    House.objects.create(customer=customer_user, name="12 Oak St", esiid=OWN)
    session = Client()
    session.force_login(customer_user)
    csrf = "c" * 32  # an unmasked CSRF secret is a valid token when cookie and header agree
    cookies = {"sessionid": session.cookies["sessionid"].value, "csrftoken": csrf}
    bodies = [GOOD + b"\n" * n for n in range(12)]
    statuses = _parallel_posts(f"{live_server.url}/customer/smt-upload", bodies, {"x-csrftoken": csrf}, cookies)
    assert sorted(statuses) == [201] * 5 + [429] * 7
    assert RawSmtFile.objects.filter(uploader="customer:customer").count() == 5
    assert len(_stored_objects()) == 5
