"""Dates outside the plausible window (2000-01-01 .. tomorrow, Central) are refused by row on
every path: the COPY fast path and the staging upsert on PostgreSQL, billing reads, customer
uploads (the SQLite path is in test_sqlite_parity.py)."""

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from smt.models import House, RawSmtFile, SmtBillingRead, SmtInterval
from tests.smt.conftest import DAILY_HEADER, sample

pytestmark = pytest.mark.django_db
OWN = "10443720000000002"
PORTAL = "portal-IntervalData-2025-12-14-estimated.csv"
TOKEN = {"HTTP_X_SMT_UPLOAD_TOKEN": "test-upload-token"}


def year_one(line: int = 3) -> bytes:
    """The portal export with its line `line` dated 06/01/0001."""
    lines = sample(PORTAL).decode().splitlines(keepends=True)
    lines[line - 1] = lines[line - 1].replace("12/14/2025", "06/01/0001", 1)
    return "".join(lines).encode()


def official_upload(client, data: bytes) -> RawSmtFile:
    response = client.post("/upload", {"file": SimpleUploadedFile("smt.csv", data)}, **TOKEN)
    assert response.status_code == 201, response.content
    return RawSmtFile.objects.get(pk=response.json()["rawId"])


def assert_refused_line(raw: RawSmtFile, line: str, text: str) -> None:
    assert raw.status == "normalized"
    assert raw.stats["invalid"]["date"]["rows"] == [line] and text in raw.stats["invalid"]["date"]["messages"][0]


def test_year_one_is_refused_by_line_on_the_copy_path(client):
    raw = official_upload(client, year_one())
    assert_refused_line(raw, "3", "USAGE_DATE 0001-06-01 is outside 2000-01-01")
    assert raw.stats["intervalsInserted"] == 95
    assert not SmtInterval.objects.filter(ts__year__lt=2025).exists()


def test_year_one_is_refused_by_line_on_the_staging_path(client):
    official_upload(client, sample(PORTAL))
    revised = year_one(line=10).decode().replace("12/15/2025 07:38:23", "12/16/2025 08:00:00").encode()
    raw = official_upload(client, revised)
    assert_refused_line(raw, "10", "USAGE_DATE 0001-06-01")
    assert raw.stats["intervalsUpdated"] == 95 and SmtInterval.objects.count() == 96
    assert not SmtInterval.objects.filter(ts__year__lt=2025).exists()


def test_a_usage_date_after_tomorrow_is_refused_by_line(client):
    data = (
        sample(PORTAL).decode().replace("12/14/2025,12/15/2025 07:38:23,00:30", "12/14/2099,12/15/2025 07:38:23,00:30")
    )
    raw = official_upload(client, data.encode())
    assert_refused_line(raw, "4", "USAGE_DATE 2099-12-14 is outside")


def test_a_customer_upload_with_year_one_is_refused_with_its_line(customer_client, customer_user):
    House.objects.create(customer=customer_user, name="12 Oak St", esiid=OWN)
    response = customer_client.post("/customer/smt-upload", {"file": SimpleUploadedFile("usage.csv", year_one())})
    assert response.status_code == 422 and "line 3: USAGE_DATE 0001-06-01 is outside" in response.json()["error"]
    assert RawSmtFile.objects.count() == 0 and SmtInterval.objects.count() == 0


def test_billing_reads_outside_the_window_are_refused_by_line(client):
    daily = (
        DAILY_HEADER
        + f"'{OWN},12/14/2025,12/15/2025 07:41:22,24002.915,24088.862,85.947\n"
        + f"'{OWN},06/01/0001,12/15/2025 07:41:22,1,2,1\n"
        + f"'{OWN},12/13/2025,12/31/2099 00:00:00,1,2,1\n"
    )
    raw = official_upload(client, daily.encode())
    assert raw.kind == "billing" and raw.status == "normalized" and raw.stats["billingReadsInserted"] == 1
    invalid = raw.stats["invalid"]["billing"]
    assert invalid["rows"] == ["3", "4"]
    assert "read date 0001-06-01 is outside" in invalid["messages"][0] and "in the future" in invalid["messages"][1]
    assert list(SmtBillingRead.objects.values_list("read_date", flat=True)) == [date(2025, 12, 14)]
