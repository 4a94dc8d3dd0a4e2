"""A corpus of malformed files, each sent to every upload endpoint (issue 15, item 7).

Each must get a 4xx naming the problem, store nothing (no raw-file row, no object in storage),
and block nothing: a good upload right after it is accepted. The files are built here.
"""

import base64
import gzip
import io
import json
import zipfile
from pathlib import Path

import pytest
from django.conf import settings

from smt.models import House, RawSmtFile
from tests.conftest import SMT_SAMPLES

pytestmark = pytest.mark.django_db
GOOD = (SMT_SAMPLES / "portal-IntervalData-2025-12-14-estimated.csv").read_bytes()
OWN = "10443720000000002"


def _zip(data: bytes) -> bytes:
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("IntervalData.csv", data)
    return packed.getvalue()


def _patched_zip(local_offset: int, central_offset: int, value: bytes, content: bytes = GOOD) -> bytes:
    """A zip of `content` with the same field changed in its local and central headers."""
    data = bytearray(_zip(content))
    central = data.find(b"PK\x01\x02")
    data[local_offset : local_offset + len(value)] = value
    data[central + central_offset : central + central_offset + len(value)] = value
    return bytes(data)


def _corrupt_zip() -> bytes:
    data = _zip(GOOD)
    return data[:60] + b"\xff" * 200 + data[260:]  # past the 46-byte local header: the deflate stream


GZIP = gzip.compress(GOOD)
CORPUS = {
    # A quote never closed swallows the lines after it until csv's field limit trips.
    "unclosed quote": (GOOD + b'"' + (b"y" * 20_000 + b"\n") * 10, "unclosed quote"),
    "truncated gzip": (GZIP[: len(GZIP) // 2], "gzip body is damaged"),
    "trailing-garbage gzip": (GZIP + b"not gzip at all", "gzip body is damaged"),
    "encrypted zip": (_patched_zip(6, 8, b"\x01\x00"), "is encrypted"),
    "method-9 zip": (_patched_zip(8, 10, b"\x09\x00"), "compression method 9"),
    "bad-CRC zip": (_patched_zip(14, 16, b"\x00\x00\x00\x00"), "Bad CRC-32"),
    "corrupt zip": (_corrupt_zip(), "is damaged"),
    "truncated zip": (_zip(GOOD)[:300], "not a readable zip"),
    "binary": (bytes(range(256)) * 8, "binary"),
}


def _multipart(client, url: str, data: bytes, **headers):
    handle = io.BytesIO(data)
    handle.name = "IntervalData.csv"
    return client.post(url, {"file": handle}, **headers)


def _token_upload(client, data: bytes):
    return _multipart(client, "/upload", data, HTTP_X_SMT_UPLOAD_TOKEN="test-upload-token")


def _legacy_upload(client, data: bytes):
    return _multipart(client, "/api/admin/smt/raw-upload", data, HTTP_X_ADMIN_TOKEN="test-admin-token")


def _customer_upload(client, data: bytes):
    return _multipart(client, "/customer/smt-upload", data)


def _pull(client, data: bytes):
    body = {"mode": "inline", "filename": "IntervalData.csv", "content_b64": base64.b64encode(data).decode()}
    return client.post(
        "/api/admin/smt/pull", json.dumps(body), content_type="application/json", HTTP_X_ADMIN_TOKEN="test-admin-token"
    )


ENDPOINTS = {"upload": _token_upload, "raw-upload": _legacy_upload, "customer": _customer_upload, "pull": _pull}


@pytest.fixture
def customer_with_house(client, customer_user):
    House.objects.create(customer=customer_user, name="12 Oak St", esiid=OWN)
    client.force_login(customer_user)
    return client


def _stored_objects() -> list[Path]:
    root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    return [path for path in root.rglob("*") if path.is_file()]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("case", CORPUS)
def test_bad_file_gets_a_4xx_with_its_reason_stores_nothing_and_blocks_nothing(customer_with_house, endpoint, case):
    send = ENDPOINTS[endpoint]
    data, reason = CORPUS[case]
    response = send(customer_with_house, data)
    assert response.status_code == 422, response.content
    error = response.json().get("error") or response.json().get("detail")
    assert reason in error
    assert RawSmtFile.objects.count() == 0 and _stored_objects() == []
    good = send(customer_with_house, GOOD)
    assert good.status_code == 201, good.content
    assert RawSmtFile.objects.count() == 1 and len(_stored_objects()) == 1


def test_a_damaged_large_file_fails_normalization_with_its_reason_not_internal_error(client, settings):
    # Above SMT_PRECHECK_FULL_BYTES only the header is read at upload: the damage shows in the worker.
    settings.SMT_PRECHECK_FULL_BYTES = 100
    rows = GOOD.split(b"\n", 1)[1]
    data = _patched_zip(14, 16, b"\x00\x00\x00\x00", content=GOOD + rows * 50)  # past the header's read buffer
    reason = "Bad CRC-32"
    response = _token_upload(client, data)
    assert response.status_code == 201, response.content
    raw = RawSmtFile.objects.get()
    assert raw.status == "failed" and reason in raw.error and "internal error" not in raw.error
