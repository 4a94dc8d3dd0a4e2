import hashlib
import io
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from smt.models import RawSmtFile, SmtInterval
from tests.conftest import SMT_SAMPLES

pytestmark = pytest.mark.django_db
SAMPLE = "portal-IntervalData-2025-12-14-estimated.csv"
TOKEN = {"HTTP_X_SMT_UPLOAD_TOKEN": "test-upload-token"}


def upload(client, data: bytes, name: str = "smt.csv", url: str = "/upload", **extra):
    fields = {"file": io.BytesIO(data), "source": "smt-inline", "esiid": "10443720000000002", "meter": "M1"}
    fields["file"].name = name
    return client.post(url, fields, **extra)


def test_curl_style_upload_with_token_stores_and_normalizes(client):
    data = (SMT_SAMPLES / SAMPLE).read_bytes()
    response = upload(client, data, **TOKEN)
    assert response.status_code == 201, response.content
    body = response.json()
    raw = RawSmtFile.objects.get(pk=body["rawId"])
    assert body["sha256"] == hashlib.sha256(data).hexdigest() == raw.sha256 and body["size"] == len(data)
    assert raw.storage_key.startswith("smt/raw/") and raw.storage_key.endswith(f"{raw.sha256}-smt.csv")
    assert default_storage.open(raw.storage_key).read() == data
    raw.refresh_from_db()
    assert (
        raw.status == "normalized"
        and raw.source == "smt-inline"
        and raw.meter_hint == "M1"
        and raw.uploader == "token:upload"
    )
    assert SmtInterval.objects.filter(meter="M1").count() == 96


def test_same_file_again_is_a_duplicate_and_stores_nothing(client):
    data = (SMT_SAMPLES / SAMPLE).read_bytes()
    first = upload(client, data, **TOKEN).json()
    again = upload(client, data, name="other.csv", **TOKEN)
    assert again.status_code == 200 and again.json()["duplicate"] is True and again.json()["rawId"] == first["rawId"]
    assert RawSmtFile.objects.count() == 1


@pytest.mark.parametrize(
    "headers", [{"HTTP_X_ADMIN_TOKEN": "test-admin-token"}, {"HTTP_AUTHORIZATION": "Bearer test-admin-token"}]
)
def test_admin_token_uploads_through_the_legacy_api_path(client, headers):
    response = upload(client, (SMT_SAMPLES / SAMPLE).read_bytes(), url="/api/admin/smt/raw-upload", **headers)
    assert response.status_code == 201 and RawSmtFile.objects.get().uploader == "token:admin"


@pytest.mark.parametrize("headers", [{}, {"HTTP_X_SMT_UPLOAD_TOKEN": "wrong"}, {"HTTP_X_ADMIN_TOKEN": "nope"}])
def test_missing_or_wrong_token_gets_401_json(client, headers):
    response = upload(client, b"x", **headers)
    assert response.status_code == 401 and "authentication required" in response.json()["error"]
    assert RawSmtFile.objects.count() == 0


def test_token_auth_is_off_when_no_token_is_configured(client, settings):
    settings.SMT_UPLOAD_TOKEN = ""
    assert upload(client, b"x", HTTP_X_SMT_UPLOAD_TOKEN="").status_code == 401


def test_customer_session_gets_403(customer_client):
    response = upload(customer_client, (SMT_SAMPLES / SAMPLE).read_bytes())
    assert response.status_code == 403 and RawSmtFile.objects.count() == 0


def test_staff_session_needs_csrf(staff_user):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff_user)
    assert upload(browser, (SMT_SAMPLES / SAMPLE).read_bytes()).status_code == 403
    page = browser.get(reverse("smt:raw-file-list"))
    token = page.cookies["csrftoken"].value
    assert upload(browser, (SMT_SAMPLES / SAMPLE).read_bytes(), HTTP_X_CSRFTOKEN=token).status_code == 201


def test_get_is_405(client):
    assert client.get("/upload").status_code == 405


def test_declared_too_large_body_gets_413_before_reading(client, settings):
    settings.SMT_UPLOAD_MAX_BYTES = 1000
    response = client.generic(
        "POST", "/upload", b"", CONTENT_TYPE="multipart/form-data; boundary=x", CONTENT_LENGTH=str(10_000_000), **TOKEN
    )
    assert response.status_code == 413 and "1000 bytes" in response.json()["error"]


def test_stream_passing_the_limit_gets_413_and_leaves_nothing(client, settings, tmp_path):
    settings.SMT_UPLOAD_MAX_BYTES = 5000
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    data = (SMT_SAMPLES / SAMPLE).read_bytes()  # ~9 kB: the framing check passes, the stream check trips
    before = set(tmp_path.iterdir())
    response = upload(client, data, **TOKEN)
    assert response.status_code == 413
    assert RawSmtFile.objects.count() == 0 and set(tmp_path.iterdir()) == before


def test_daily_upload_limit_gives_429(client, settings):
    settings.SMT_UPLOADS_PER_DAY = 1
    assert upload(client, (SMT_SAMPLES / SAMPLE).read_bytes(), **TOKEN).status_code == 201
    response = upload(client, (SMT_SAMPLES / "portal-IntervalData-2025-11-02-fall-back.csv").read_bytes(), **TOKEN)
    assert response.status_code == 429 and "1 files per day" in response.json()["error"]


def _zip(name: str, content: bytes) -> bytes:
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr(name, content)
    return packed.getvalue()


HEADER = b"ESIID,USAGE_DATE,REVISION_DATE,USAGE_START_TIME,USAGE_END_TIME,USAGE_KWH,ESTIMATED_ACTUAL,CONSUMPTION_SURPLUSGENERATION\n"
MALFORMED = {
    "empty": (b"", "empty"),
    "binary": (bytes(range(256)) * 4, "binary"),
    "wrong header": (b"date,usage\n2025-01-01,1\n", "no SMT interval header"),
    "header only": (HEADER, "no data rows"),
    "truncated rows": (HEADER + b"'10443720000000002,12/14/2025\n'10443720000000002\n", "truncated: 2"),
    "bad dates": (
        HEADER + b"'10443720000000002,14/35/2025,12/15/2025 07:38:23,00:00,00:15,1,A,Consumption\n",
        "line 2",
    ),
    "bad numbers": (
        HEADER + b"'10443720000000002,12/14/2025,12/15/2025 07:38:23,00:00,00:15,1,2,A,Consumption\n"
        b"'10443720000000002,12/14/2025,12/15/2025 07:38:23,00:15,00:30,-1,A,Consumption\n",
        "kwh",
    ),
    "huge line": (b"ESIID," + b"X" * 100_000 + b"\n", "longer than"),
    "zip path escape": (_zip("../x.csv", HEADER), "unsafe path"),
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_malformed_input_gets_a_clear_4xx_and_nothing_is_stored(client, case):
    data, message = MALFORMED[case]
    response = upload(client, data, **TOKEN)
    assert response.status_code in (400, 422), response.content
    assert message in response.json()["error"]
    assert RawSmtFile.objects.count() == 0 and SmtInterval.objects.count() == 0


def test_missing_file_field_is_400(client):
    response = client.post("/upload", {"source": "x"}, **TOKEN)
    assert response.status_code == 400 and "'file'" in response.json()["error"]


def test_bad_esiid_field_is_422(client):
    response = client.post("/upload", {"file": io.BytesIO(b"x"), "esiid": "12ab"}, **TOKEN)
    assert response.status_code == 422 and "esiid" in response.json()["error"]


def test_upload_to_s3_keeps_an_object_with_the_same_sha256(client, s3_storage):
    s3, bucket = s3_storage
    data = (SMT_SAMPLES / "portal-IntervalData-2022-excerpt.csv").read_bytes()
    body = upload(client, data, **TOKEN).json()
    raw = RawSmtFile.objects.get(pk=body["rawId"])
    stored = s3.get_object(Bucket=bucket, Key=raw.storage_key)["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == raw.sha256 == body["sha256"]
    raw.refresh_from_db()
    assert raw.status == "normalized" and SmtInterval.objects.count() == 197


def test_health_reports_storage_and_limit(client):
    body = client.get("/health").json()
    assert body == {"ok": True, "service": "wattledger", "storage": "local", "maxBytes": 512 * 1024 * 1024}
