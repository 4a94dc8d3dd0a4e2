import base64
import gzip
import json

import pytest

from smt.models import RawSmtFile, SmtInterval
from tests.conftest import SMT_SAMPLES

pytestmark = pytest.mark.django_db
TOKEN = {"HTTP_X_ADMIN_TOKEN": "test-admin-token"}
SAMPLE = "portal-IntervalData-2025-03-09-spring-forward.csv"


def post(client, url, body, **headers):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(url, data, content_type="application/json", **(headers or TOKEN))


def pull_body(content: bytes, **extra) -> dict:
    return {
        "mode": "inline",
        "source": "smt-inline",
        "filename": "IntervalData.csv",
        "mime": "text/csv",
        "encoding": "base64",
        "sizeBytes": len(content),
        "content_b64": base64.b64encode(content).decode(),
        "esiid": "10443720000000002",
        "meter": "M1",
        "captured_at": "2025-03-10T12:00:00Z",
        **extra,
    }


def test_inline_pull_stores_and_normalizes(client):
    content = (SMT_SAMPLES / SAMPLE).read_bytes()
    response = post(client, "/api/admin/smt/pull", pull_body(content))
    assert response.status_code == 201, response.content
    raw = RawSmtFile.objects.get(pk=response.json()["rawId"])
    assert raw.status == "normalized" and raw.meter_hint == "M1" and SmtInterval.objects.count() == 92


def test_inline_pull_accepts_base64_gzip_and_reports_duplicates(client):
    content = (SMT_SAMPLES / SAMPLE).read_bytes()
    packed = gzip.compress(content)
    body = pull_body(content, encoding="base64+gzip", content_b64=base64.b64encode(packed).decode())
    assert post(client, "/api/admin/smt/pull", body).status_code == 201
    again = post(client, "/api/admin/smt/pull", pull_body(content))
    assert again.status_code == 200 and again.json()["duplicate"] is True


@pytest.mark.parametrize("size", [4 * 1024 * 1024 + 10, 8 * 1024 * 1024])
def test_inline_pull_over_4_mb_points_at_upload(client, size):
    response = post(client, "/api/admin/smt/pull", pull_body(b"x" * size))
    assert response.status_code == 413 and "/upload" in response.json()["error"]


@pytest.mark.parametrize(
    "change, status, field",
    [
        ({"content_b64": "not base64!!"}, 422, "base64"),
        ({"mode": "remote"}, 422, "mode"),
        ({"encoding": "hex"}, 422, "encoding"),
        ({"sizeBytes": 3}, 422, "sizeBytes"),
        ({"esiid": "123"}, 422, "esiid"),
        ({"filename": ""}, 422, "filename"),
    ],
)
def test_inline_pull_names_the_bad_field(client, change, status, field):
    content = (SMT_SAMPLES / SAMPLE).read_bytes()
    response = post(client, "/api/admin/smt/pull", pull_body(content, **change))
    assert response.status_code == status and field in response.json()["error"]
    assert RawSmtFile.objects.count() == 0


def test_invalid_json_is_400(client):
    response = post(client, "/api/admin/smt/pull", "{not json")
    assert response.status_code == 400 and response.json()["ok"] is False


def test_normalize_by_id_latest_and_dry_run(client):
    content = (SMT_SAMPLES / SAMPLE).read_bytes()
    raw_id = post(client, "/api/admin/smt/pull", pull_body(content)).json()["rawId"]
    again = post(client, "/api/admin/smt/normalize", {"rawId": raw_id}).json()
    assert again["ok"] and again["intervalsInserted"] == 0 and again["duplicatesSkipped"] == 92
    assert again["files"][0]["rawId"] == raw_id and again["files"][0]["status"] == "normalized"
    SmtInterval.objects.all().delete()
    dry = post(client, "/api/admin/smt/normalize", {"latest": True, "dryRun": True}).json()
    assert dry["dryRun"] and dry["intervalsInserted"] == 92 and SmtInterval.objects.count() == 0
    real = post(
        client, "/api/admin/smt/normalize", {"latest": True}, HTTP_AUTHORIZATION="Bearer test-admin-token"
    ).json()
    assert real["intervalsInserted"] == 92 and real["totalKwh"] == 42.72 and real["tsMin"] == "2025-03-09T06:00:00Z"


def test_normalize_unknown_id_is_404_and_missing_choice_is_422(client):
    assert post(client, "/api/admin/smt/normalize", {"rawId": 999}).status_code == 404
    response = post(client, "/api/admin/smt/normalize", {})
    assert response.status_code == 422 and "rawId" in response.json()["error"]
    assert post(client, "/api/admin/smt/normalize", {"rawId": "abc"}).status_code == 422


def test_raw_file_listing_is_newest_first_and_limited(client):
    for name in (SAMPLE, "portal-IntervalData-2025-11-02-fall-back.csv"):
        post(client, "/api/admin/smt/pull", pull_body((SMT_SAMPLES / name).read_bytes(), filename=name))
    listing = client.get("/api/admin/debug/smt/raw-files?limit=1", **TOKEN).json()
    assert listing["count"] == 1 and listing["files"][0]["filename"] == "portal-IntervalData-2025-11-02-fall-back.csv"
    assert client.get("/api/admin/debug/smt/raw-files?limit=0", **TOKEN).status_code == 422


def test_staff_session_api_calls_need_csrf(staff_user):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff_user)
    assert browser.get("/api/admin/debug/smt/raw-files").status_code == 200
    response = browser.post("/api/admin/smt/normalize", "{}", content_type="application/json")
    assert response.status_code == 403 or "CSRF" in response.content.decode()
