"""Green Button files through every SMT upload path, and the export read back in (real files in place)."""

import base64
import io
import json
from datetime import date

import pytest

from ops.models import JobRun
from smt import mirror
from smt.models import House, RawSmtFile, SmtInterval
from tests.smt.test_greenbutton import REAL, espi, quarter_hours

pytestmark = pytest.mark.django_db
ESIID = "10443720001617272"
TOKEN = {"HTTP_X_SMT_UPLOAD_TOKEN": "test-upload-token"}
AMEREN = "ameren_bidgely_15min_2023-09.xml"
BATCH = "gbsdk_batch_3usagepoints_15min_generation_2011-06.xml"


def real(name: str) -> bytes:
    return (REAL / name).read_bytes()


def post(client, data: bytes, *, url: str = "/upload", name: str = "usage.xml", **fields):
    handle = io.BytesIO(data)
    handle.name = name
    extra = {key: value for key, value in fields.items() if key.startswith("HTTP_")}
    form = {key: value for key, value in fields.items() if not key.startswith("HTTP_")}
    return client.post(url, {"file": handle, **form}, **extra)


def built(day: date = date(2025, 6, 1), *, usage_points: int = 1, prefix: str = "espi") -> bytes:
    return espi(
        [{"blocks": [quarter_hours(day)]}, {"flow": 19, "blocks": [quarter_hours(day, 8, 5)]}],
        usage_points=usage_points,
        prefix=prefix,
    ).getvalue()


def intervals() -> list[tuple]:
    return list(
        SmtInterval.objects.order_by("esiid", "channel", "ts").values_list("esiid", "channel", "ts", "kwh", "quality")
    )


def test_token_upload_of_a_real_15_minute_download_is_stored_as_green_button_and_normalized(client):
    response = post(client, real(AMEREN), esiid=ESIID, **TOKEN)
    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "greenbutton"
    raw = RawSmtFile.objects.get()
    assert raw.kind == "greenbutton" and raw.status == "normalized" and raw.esiid_hint == ESIID
    assert raw.stats["intervalsInserted"] == 2976 and SmtInterval.objects.filter(esiid=ESIID).count() == 2976


@pytest.mark.parametrize("prefix", ["espi", "ns0", ""])
def test_staff_session_upload_through_the_legacy_path_reads_any_namespace_prefix(staff_client, prefix):
    response = post(staff_client, built(prefix=prefix), url="/api/admin/smt/raw-upload", esiid=ESIID)
    assert response.status_code == 201, response.content
    assert SmtInterval.objects.filter(esiid=ESIID, channel="consumption").count() == 96
    assert SmtInterval.objects.filter(esiid=ESIID, channel="generation").count() == 8
    assert RawSmtFile.objects.get().uploader == "user:staff"


def test_a_batch_without_each_usage_point_mapped_gets_422_naming_them_and_stores_nothing(client):
    response = post(client, real(BATCH), esiid=ESIID, **TOKEN)
    assert response.status_code == 422
    points = response.json()["usagePoints"]
    assert len(points) == 3 and all(point in response.json()["error"] for point in points)
    assert RawSmtFile.objects.count() == 0 and SmtInterval.objects.count() == 0


def test_a_batch_with_each_usage_point_mapped_loads_each_esiid_and_the_page_shows_the_mapping(client, staff_client):
    points = post(client, real(BATCH), **TOKEN).json()["usagePoints"]
    mapping = {point: f"1044372000161727{n}" for n, point in enumerate(points)}
    response = post(client, real(BATCH), usage_point_esiids=json.dumps(mapping), **TOKEN)
    assert response.status_code == 201, response.content
    raw = RawSmtFile.objects.get()
    assert raw.usage_point_esiids == mapping and raw.status == "normalized"
    assert set(SmtInterval.objects.values_list("esiid", flat=True)) == set(mapping.values())
    assert SmtInterval.objects.count() == 4 * 96
    page = staff_client.get(raw.get_absolute_url())
    assert b'id="usage-points"' in page.content and points[0].encode() in page.content


def test_a_malformed_usage_point_mapping_is_refused_naming_the_field(client):
    response = post(client, real(BATCH), usage_point_esiids='{"RetailCustomer/1/UsagePoint/1": "12"}', **TOKEN)
    assert response.status_code == 422 and "usage_point_esiids" in response.json()["error"]
    assert RawSmtFile.objects.count() == 0


def test_an_hourly_download_is_refused_with_that_reason(client):
    response = post(client, real("pge_api_ns0_hourly_2015.xml"), esiid=ESIID, **TOKEN)
    assert response.status_code == 422 and "hourly Green Button files are not stored yet" in response.json()["error"]
    assert RawSmtFile.objects.count() == 0


def test_an_xml_bomb_is_refused_without_being_stored(client):
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;">]>'
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry>&lol1;</entry></feed>'
    )
    response = post(client, bomb, esiid=ESIID, **TOKEN)
    assert response.status_code == 422 and "declares a DTD or entities" in response.json()["error"]
    assert RawSmtFile.objects.count() == 0


def test_inline_pull_api_takes_a_green_button_file_and_its_usage_point_mapping(client):
    points = post(client, real(BATCH), **TOKEN).json()["usagePoints"]
    mapping = {point: f"1044372000161727{n}" for n, point in enumerate(points)}
    body = {
        "mode": "inline",
        "filename": "batch.xml",
        "content_b64": base64.b64encode(real(BATCH)).decode(),
        "usage_point_esiids": mapping,
    }
    response = client.post(
        "/api/admin/smt/pull", json.dumps(body), content_type="application/json", HTTP_X_ADMIN_TOKEN="test-admin-token"
    )
    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "greenbutton" and SmtInterval.objects.count() == 4 * 96
    unmapped = client.post(
        "/api/admin/smt/pull",
        json.dumps(body | {"usage_point_esiids": {}, "filename": "b.xml"}),
        content_type="application/json",
        HTTP_X_ADMIN_TOKEN="test-admin-token",
    )
    assert unmapped.status_code == 200 and unmapped.json()["duplicate"] is True  # same bytes: stored once


def test_inline_pull_api_refuses_a_batch_without_mapping(client):
    body = {"mode": "inline", "filename": "batch.xml", "content_b64": base64.b64encode(real(BATCH)).decode()}
    response = client.post(
        "/api/admin/smt/pull", json.dumps(body), content_type="application/json", HTTP_X_ADMIN_TOKEN="test-admin-token"
    )
    assert response.status_code == 422 and "need an ESIID each" in response.json()["error"]
    assert RawSmtFile.objects.count() == 0


def test_customer_green_button_upload_is_read_as_their_only_house(customer_client, customer_user):
    House.objects.create(customer=customer_user, name="Oak St", esiid=ESIID)
    response = post(customer_client, built(), url="/customer/smt-upload")
    assert response.status_code == 201, response.content
    raw = RawSmtFile.objects.get()
    assert (
        raw.kind == "greenbutton"
        and raw.origin == "customer"
        and raw.esiid_hint == ESIID
        and raw.status == "normalized"
    )
    assert SmtInterval.objects.filter(esiid=ESIID).count() == 104


def test_customer_cannot_map_a_usage_point_to_someone_elses_esiid(customer_client, customer_user):
    House.objects.create(customer=customer_user, name="Oak St", esiid=ESIID)
    mapping = {"RetailCustomer/1/UsagePoint/1": ESIID, "RetailCustomer/1/UsagePoint/2": "10443720000000009"}
    response = post(
        customer_client, built(usage_points=2), url="/customer/smt-upload", usage_point_esiids=json.dumps(mapping)
    )
    assert response.status_code == 422 and "10443720000000009 is not yours" in response.json()["error"]
    assert RawSmtFile.objects.count() == 0 and SmtInterval.objects.count() == 0


def test_customer_with_two_houses_is_asked_for_the_usage_points_esiid(customer_client, customer_user):
    House.objects.create(customer=customer_user, name="Oak St", esiid=ESIID)
    House.objects.create(customer=customer_user, name="Cabin", esiid="10443720000000002")
    refused = post(customer_client, built(), url="/customer/smt-upload")
    assert refused.status_code == 422 and refused.json()["usagePoints"] == ["RetailCustomer/1/UsagePoint/1"]
    named = post(customer_client, built(), url="/customer/smt-upload", esiid="10443720000000002")
    assert named.status_code == 201 and set(SmtInterval.objects.values_list("esiid", flat=True)) == {
        "10443720000000002"
    }


def test_the_mirror_stores_a_green_button_file_and_fails_it_naming_the_usage_point_it_cannot_map(smt_sftp):
    (smt_sftp.root / "usage.xml").write_bytes(built())
    job = mirror.mirror_run(trigger=JobRun.Trigger.COMMAND)
    raw = RawSmtFile.objects.get()
    assert raw.kind == "greenbutton" and raw.origin == "mirror" and raw.status == "failed"
    assert "RetailCustomer/1/UsagePoint/1" in raw.error and "needs an ESIID" in raw.error
    assert job.counts["ingestFailed"] == 1 and SmtInterval.objects.count() == 0


# ---------------------------------------------------------------- export, and export read back in


def test_staff_export_read_back_in_gives_the_same_intervals(client, staff_client):
    post(client, real(AMEREN), esiid=ESIID, **TOKEN)
    before = intervals()
    response = staff_client.get(f"/api/admin/smt/green-button?esiid={ESIID}&start=2023-09-01&end=2023-10-31")
    assert response.status_code == 200 and response.streaming and response["Content-Type"] == "application/atom+xml"
    assert f"green-button-{ESIID}-2023-09-01-2023-10-31.xml" in response["Content-Disposition"]
    exported = b"".join(response.streaming_content)
    SmtInterval.objects.all().delete()
    again = post(client, exported, esiid=ESIID, **TOKEN)
    assert again.status_code == 201, again.content
    assert intervals() == before


def test_staff_export_refuses_a_bad_esiid_or_range(staff_client):
    assert staff_client.get("/api/admin/smt/green-button?esiid=12").status_code == 422
    backwards = staff_client.get(f"/api/admin/smt/green-button?esiid={ESIID}&start=2025-02-01&end=2025-01-01")
    assert backwards.status_code == 400 and "is after end" in backwards.json()["error"]


def test_customer_export_is_their_own_usage_and_reads_back_in(customer_client, customer_user):
    House.objects.create(customer=customer_user, name="Oak St", esiid=ESIID)
    post(customer_client, built(), url="/customer/smt-upload")
    before = intervals()
    response = customer_client.get("/customer/usage/green-button.xml?start=2025-06-01&end=2025-06-01")
    assert response.status_code == 200 and response.streaming
    exported = b"".join(response.streaming_content)
    assert exported.count(b"<espi:IntervalReading>") == 104
    SmtInterval.objects.all().delete()
    assert post(customer_client, exported, url="/customer/smt-upload").status_code == 201
    assert intervals() == before
    page = customer_client.get("/customer/usage")
    assert b'class="green-button-download"' in page.content


def test_customer_export_of_another_esiid_is_404_and_several_houses_need_one_named(customer_client, customer_user):
    House.objects.create(customer=customer_user, name="Oak St", esiid=ESIID)
    assert customer_client.get("/customer/usage/green-button.xml?esiid=10443720000000009").status_code == 404
    House.objects.create(customer=customer_user, name="Cabin", esiid="10443720000000002")
    several = customer_client.get("/customer/usage/green-button.xml")
    assert several.status_code == 400 and b"esiid=" in several.content
    assert customer_client.get(f"/customer/usage/green-button.xml?esiid={ESIID}&start=June").status_code == 400


def test_staff_map_a_batchs_usage_points_from_the_raw_files_page_form(client, staff_client):
    page = staff_client.get("/smt/raw-files/").content.decode()
    assert 'name="usage_point_esiids"' in page  # the page's upload form carries the mapping field
    points = post(client, real(BATCH), **TOKEN).json()["usagePoints"]
    mapping = {point: f"1044372000161727{n}" for n, point in enumerate(points)}
    # What the page's form sends: a staff session, CSRF checked by the test client's default (off).
    response = post(staff_client, real(BATCH), source="admin-upload", usage_point_esiids=json.dumps(mapping))
    assert response.status_code == 201, response.content
    assert set(SmtInterval.objects.values_list("esiid", flat=True)) == set(mapping.values())
