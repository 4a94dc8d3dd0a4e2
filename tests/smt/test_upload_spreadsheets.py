"""Spreadsheet saves of SMT exports through the real upload endpoints (real files, read in place)."""

import io
from pathlib import Path

import pytest

from smt.models import House, RawSmtFile, SmtInterval

pytestmark = pytest.mark.django_db
VARIANTS = Path(__file__).resolve().parents[3] / "shared" / "formats" / "samples" / "real" / "smt-variants"
ESIID = "10443720001617272"
TOKEN = {"HTTP_X_SMT_UPLOAD_TOKEN": "test-upload-token"}


def post(client, data: bytes, *, name: str = "usage.csv", url: str = "/upload", esiid: str | None = None, **extra):
    handle = io.BytesIO(data)
    handle.name = name
    fields = {"file": handle} | ({"esiid": esiid} if esiid is not None else {})
    return client.post(url, fields, **extra)


def variant(name: str) -> bytes:
    return (VARIANTS / name).read_bytes()


def stored() -> list[tuple]:
    return list(SmtInterval.objects.order_by("channel", "ts").values_list("esiid", "channel", "ts", "kwh", "quality"))


def test_utf16_export_uploads_like_utf8_and_the_answer_says_so(client):
    response = post(client, variant("v4_utf16.csv"), **TOKEN)
    assert response.status_code == 201, response.content
    assert response.json()["notes"] == ["read as UTF-16 text (a spreadsheet's Unicode save)"]
    raw = RawSmtFile.objects.get()
    assert raw.status == "normalized" and raw.stats["validRows"] == 8740 and raw.stats["invalidCount"] == 0
    assert SmtInterval.objects.filter(esiid=ESIID).count() == 8740


def test_utf16_with_tabs_gives_the_same_intervals_as_the_utf16_comma_file(client):
    post(client, variant("v4_utf16.csv"), **TOKEN)
    commas = stored()
    SmtInterval.objects.all().delete()
    tabbed = variant("v4_utf16.csv").decode("utf-16").replace(",", "\t").encode("utf-16")
    response = post(client, tabbed, name="usage.txt", **TOKEN)
    assert response.status_code == 201, response.content
    assert "tab-separated columns read as commas" in response.json()["notes"]
    assert stored() == commas


def test_scientific_esiid_agreeing_with_the_named_esiid_is_stored_under_it_and_reported(client, staff_client):
    response = post(client, variant("v3_excel_scientific_esiid.csv"), esiid=ESIID, **TOKEN)
    assert response.status_code == 201, response.content
    [note] = response.json()["notes"]
    assert f"was read as {ESIID}" in note and "scientific notation" in note
    raw = RawSmtFile.objects.get()
    assert raw.esiid_hint == ESIID and raw.status == "normalized"
    assert set(SmtInterval.objects.values_list("esiid", flat=True)) == {ESIID}
    page = staff_client.get(raw.get_absolute_url())
    assert b'id="read-notes"' in page.content and f"read as {ESIID}".encode() in page.content


def test_scientific_esiid_without_a_named_esiid_is_refused_saying_how_to_fix_the_spreadsheet(client):
    response = post(client, variant("v3_excel_scientific_esiid.csv"), **TOKEN)
    assert response.status_code == 422
    error = response.json()["error"]
    assert "row 2" in error and "scientific notation" in error and "format the ESIID column as Text" in error
    assert RawSmtFile.objects.count() == 0 and SmtInterval.objects.count() == 0


def test_scientific_esiid_disagreeing_with_the_named_esiid_is_refused(client):
    response = post(client, variant("v3_excel_scientific_esiid.csv"), esiid="10443820001617272", **TOKEN)
    assert (
        response.status_code == 422
        and "does not agree with the upload's ESIID 10443820001617272" in response.json()["error"]
    )
    assert RawSmtFile.objects.count() == 0


def test_solar_file_with_quoted_esiids_stores_both_channels(client):
    response = post(client, variant("v7_solar_interleaved.csv"), **TOKEN)
    assert response.status_code == 201, response.content
    channels = set(SmtInterval.objects.values_list("channel", flat=True))
    assert channels == {"consumption", "generation"} and response.json()["notes"] == []


def test_customer_scientific_esiid_is_read_as_their_only_house(customer_client, customer_user):
    House.objects.create(customer=customer_user, name="Solar house", esiid=ESIID)
    response = post(customer_client, variant("v3_excel_scientific_esiid.csv"), url="/customer/smt-upload")
    assert response.status_code == 201, response.content
    assert f"was read as {ESIID}" in response.json()["notes"][0]
    raw = RawSmtFile.objects.get()
    assert raw.esiid_hint == ESIID and raw.status == "normalized" and raw.origin == "customer"
    assert SmtInterval.objects.filter(esiid=ESIID).count() == raw.stats["validRows"] > 0


def test_customer_with_two_houses_names_the_esiid_or_gets_a_422(customer_client, customer_user):
    House.objects.create(customer=customer_user, name="Solar house", esiid=ESIID)
    House.objects.create(customer=customer_user, name="Cabin", esiid="10443720000000002")
    refused = post(customer_client, variant("v3_excel_scientific_esiid.csv"), url="/customer/smt-upload")
    assert refused.status_code == 422 and "scientific notation" in refused.json()["error"]
    assert RawSmtFile.objects.count() == 0
    named = post(customer_client, variant("v3_excel_scientific_esiid.csv"), url="/customer/smt-upload", esiid=ESIID)
    assert named.status_code == 201, named.content
    assert set(SmtInterval.objects.values_list("esiid", flat=True)) == {ESIID}


def test_customer_naming_an_esiid_that_is_not_theirs_is_refused(customer_client, customer_user):
    House.objects.create(customer=customer_user, name="Solar house", esiid=ESIID)
    response = post(customer_client, variant("v4_utf16.csv"), url="/customer/smt-upload", esiid="10443720000000009")
    assert response.status_code == 422 and "is not the ESIID of one of your houses" in response.json()["error"]
    assert RawSmtFile.objects.count() == 0
