"""The ERCOT staff pages, and the ESIID checks and records on the SMT pages."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone as dj_timezone

from config.texas import CENTRAL
from ercot import esiids
from ercot.models import ErcotIngest, EsiidRecord
from smt.models import RawSmtFile
from tests.conftest import SMT_SAMPLES
from tests.ercot.conftest import MisDoc, constructed, extract_row, make_zip

pytestmark = pytest.mark.django_db
POSTED = datetime(2026, 6, 3, 10, 52, tzinfo=UTC)
SMT_ESIID = "10443720000000002"  # the ESIID in the SMT fall-back sample


def stored(doc_id: str, day, tdsp: str, kind: str = "DAILY", status: str = "stored") -> ErcotIngest:
    name = constructed(str(day), f"{tdsp}___{kind}")
    key = default_storage.save(f"ercot/{day}/{name}", ContentFile(b"PK-zip-" + doc_id.encode()))
    return ErcotIngest.objects.create(
        doc_id=doc_id,
        filename=name,
        storage_key=key,
        method="mis",
        tdsp=tdsp,
        kind=kind,
        file_date=day,
        posted_at=POSTED,
        status=status,
        sha256="ab" * 32,
        size_bytes=9,
        error="unreadable zip" if status == "failed" else "",
    )


def load(*rows: str, tdsp: str = "ONCOR_ELEC") -> None:
    records = [row.strip().replace('"', "").split(",") for row in rows]
    esiids.esiid_records_load(records=records, tdsp=tdsp, posted_at=POSTED, ingest_id=None)


@pytest.fixture
def today():
    return dj_timezone.localdate(timezone=CENTRAL)


def test_staff_see_files_and_the_31_day_strip(staff_client, today):
    stored("1", today, "ONCOR_ELEC")
    stored("2", today - timedelta(days=2), "ONCOR_ELEC", "FUL")
    stored("3", today, "TNMP", status="failed")
    response = staff_client.get("/ercot/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="today-count">1<' in html
    assert (
        html.count('<tr data-tdsp="ONCOR_ELEC">') == 1 and 'data-tdsp="TNMP"' not in html
    )  # failed files are not present
    strip = html[html.index('data-tdsp="ONCOR_ELEC"') :]
    strip = strip[: strip.index("</tr>")]
    assert strip.count("<td") == 31 and strip.count("day present") == 2 and strip.count(">F<") == 1
    assert f'title="{today:%Y-%m-%d}: DAILY"' in strip
    assert "unreadable zip" in html and html.count("/download") == 2
    assert 'id="record-count">0<' in html


def test_the_files_table_shows_rows_read_beside_rows_newer_than_stored(staff_client, today):
    ErcotIngest.objects.filter(pk=stored("1", today, "ONCOR_ELEC").pk).update(rows_read=1040, rows_loaded=0)
    ErcotIngest.objects.filter(pk=stored("2", today, "TNMP").pk).update(
        rows_loaded=7
    )  # loaded before rows_read existed

    html = staff_client.get("/ercot/").content.decode()

    assert "1,040 read, 0 newer than stored" in html
    assert '<td class="num">7</td>' in html.replace("\n", "").replace("  ", "")


def test_filters_narrow_the_table_and_htmx_gets_the_fragment(staff_client, today):
    stored("1", today, "ONCOR_ELEC")
    stored("2", today, "TNMP", "FUL")
    response = staff_client.get(
        "/ercot/",
        {"tdsp": "TNMP", "kind": "FUL", "status": "stored", "file_date": f"{today}"},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert (
        html.strip().startswith('<div id="ingest-table"') and "TNMP___FUL" in html and "ONCOR_ELEC___DAILY" not in html
    )
    assert "HX-Request" in response["Vary"]
    assert (
        "ONCOR_ELEC___DAILY"
        not in staff_client.get("/ercot/", {"kind": "FUL"}).content.decode().split('id="ingest-table"')[1]
    )


def test_fetch_now_queues_a_fetch_that_stores_the_listed_files(staff_client, mis):
    mis.docs.append(
        MisDoc("1001", constructed("2026-06-03", "ONCOR_ELEC___DAILY"), make_zip(extract_row("10443720000000001")))
    )
    response = staff_client.post("/ercot/fetch")
    assert response.status_code == 302 and response["Location"] == "/ercot/"
    assert ErcotIngest.objects.get().status == "stored"
    assert EsiidRecord.objects.count() == 1
    assert staff_client.get("/ercot/fetch").status_code == 405


def test_download_returns_the_stored_zip_and_404_for_a_failed_file(staff_client, today):
    row = stored("1", today, "ONCOR_ELEC")
    response = staff_client.get(f"/ercot/files/{row.pk}/download")
    assert b"".join(response.streaming_content) == b"PK-zip-1"
    assert row.filename in response["Content-Disposition"]
    failed = stored("2", today, "TNMP", status="failed")
    assert staff_client.get(f"/ercot/files/{failed.pk}/download").status_code == 404


def test_pages_are_staff_only(client, customer_user):
    assert client.get("/ercot/").status_code == 302
    client.force_login(customer_user)
    assert client.get("/ercot/").status_code == 403
    assert client.get("/ercot/esiids/?q=1").status_code == 403
    assert client.post("/ercot/fetch").status_code == 403
    assert ErcotIngest.objects.count() == 0


@pytest.mark.parametrize(
    "query, found",
    [
        ("1044372", ["10443720000000001", "10443720000000002"]),
        ("104437200000000012", []),
        ("75088", ["10443720000000002"]),
        ("boxwood", ["10443720000000002"]),
        ("  elm   st ", ["10443720000000001"]),
    ],
)
def test_esiid_lookup_by_prefix_zip_or_address(staff_client, query, found):
    load(
        extract_row("10443720000000001", address="12 ELM ST"),
        extract_row("10443720000000002", address="206 BOXWOOD DR", zipcode="750881851"),
        extract_row("1008901023817895470106", address="9 OAK AVE"),
    )
    response = staff_client.get("/ercot/esiids/", {"q": query}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.strip().startswith('<div id="esiid-results"') and "HX-Request" in response["Vary"]
    assert [
        e for e in ("10443720000000001", "10443720000000002", "1008901023817895470106") if f">{e}<" in html
    ] == found
    if not found:
        assert "No ESIID matches" in html


def test_esiid_lookup_page_without_a_query_explains_the_search(staff_client):
    html = staff_client.get("/ercot/esiids/").content.decode()
    assert "<html" in html and "Search by the first digits of an ESIID" in html


def upload_smt(client, esiid: str):
    data = (SMT_SAMPLES / "portal-IntervalData-2025-11-02-fall-back.csv").read_bytes()
    fields = {"file": io.BytesIO(data), "esiid": esiid}
    fields["file"].name = "smt.csv"
    return client.post("/upload", fields, HTTP_X_SMT_UPLOAD_TOKEN="test-upload-token")


def test_an_smt_upload_of_an_inactive_esiid_gets_a_warning(client):
    load(extract_row(SMT_ESIID, status="De-Energized"))
    response = upload_smt(client, SMT_ESIID)
    assert response.status_code == 201
    warning = {"esiid": SMT_ESIID, "problem": "status De-Energized in the ERCOT ESIID extract"}
    assert response.json()["esiidWarnings"] == [warning]
    assert RawSmtFile.objects.get().stats["esiidWarnings"] == [warning]


def test_an_smt_upload_of_an_unknown_esiid_gets_a_warning_and_an_active_one_none(client):
    load(extract_row("10443720000000001"))
    body = upload_smt(client, "").json()
    assert body["esiidWarnings"] == [{"esiid": SMT_ESIID, "problem": "unknown to the ERCOT ESIID extract"}]
    RawSmtFile.objects.all().delete()
    load(extract_row(SMT_ESIID))
    assert "esiidWarnings" not in upload_smt(client, SMT_ESIID).json()


def test_smt_pages_show_the_ercot_record(staff_client):
    load(
        extract_row(SMT_ESIID, address="206 BOXWOOD DR", status="Inactive", premise="Small Non-Residential", cycle="19")
    )
    upload_smt(staff_client, SMT_ESIID)
    raw = RawSmtFile.objects.get()
    html = staff_client.get(f"/smt/raw-files/{raw.pk}/").content.decode()
    record = html[html.index('id="esiid-record"') :]
    assert (
        "206 BOXWOOD DR" in record and "Small Non-Residential" in record and ">19<" in record and "not Active" in record
    )
    assert "status Inactive in the ERCOT ESIID extract" in html
    usage = staff_client.get(
        "/smt/usage/", {"esiid": SMT_ESIID, "start": "2025-11-02", "end": "2025-11-02"}
    ).content.decode()
    assert 'id="esiid-record"' in usage and "206 BOXWOOD DR" in usage
    intervals = staff_client.get(
        "/smt/intervals/", {"esiid": SMT_ESIID}, headers={"HX-Request": "true"}
    ).content.decode()
    assert 'id="esiid-record"' in intervals and "206 BOXWOOD DR" in intervals  # inside the fragment filters refresh
    assert 'id="esiid-record"' not in staff_client.get("/smt/intervals/", {"esiid": "12"}).content.decode()
