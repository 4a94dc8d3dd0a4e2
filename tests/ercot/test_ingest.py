"""ercot.ingest: zips from the MIS list into storage, then rows into EsiidRecord."""

from datetime import UTC, date, datetime

import pytest
from django.core.files.storage import default_storage

from ercot import esiids, ingest
from ercot.models import ErcotIngest, EsiidRecord
from tests.ercot.conftest import SAMPLE_ROWS, MisDoc, constructed, extract_row, make_zip

pytestmark = pytest.mark.django_db

ONCOR = "10443720000000001"


def test_fetch_stores_each_zip_under_its_central_date_and_loads_the_rows(mis, caplog):
    caplog.set_level("INFO", logger="ercot.esiids")
    oncor = MisDoc("1001", constructed("2026-06-03", "ONCOR_ELEC___DAILY"), make_zip(extract_row(ONCOR)))
    center = MisDoc("1002", constructed("2026-06-03", "CENTERPOINT__DAILY", "055219302"), make_zip(SAMPLE_ROWS))
    mis.docs += [oncor, center]

    run = ingest.ercot_fetch()

    assert run.ok and run.method == "mis"
    assert [r["key"] for r in run.results] == [f"ercot/2026-06-03/{oncor.name}", f"ercot/2026-06-03/{center.name}"]
    assert [r["bytes"] for r in run.results] == [len(oncor.body), len(center.body)]
    assert default_storage.open(f"ercot/2026-06-03/{oncor.name}").read() == oncor.body
    row = ErcotIngest.objects.get(doc_id="1001")
    assert (row.tdsp, row.kind, row.status, row.method, row.file_date) == (
        "ONCOR_ELEC",
        "DAILY",
        "stored",
        "mis",
        date(2026, 6, 3),
    )
    assert row.posted_at == datetime(2026, 6, 3, 10, 52, 19, tzinfo=UTC)
    assert len(row.sha256) == 64 and row.rows_loaded == 1
    # The CenterPoint sample repeats one ESIID three times: the last row wins.
    record = EsiidRecord.objects.get(esiid="1008901023817895470106")
    assert (record.status, record.county, record.address_overflow, record.duns) == (
        "Active",
        "CHAMBERS",
        "",
        "957877905",
    )
    assert EsiidRecord.objects.get(esiid=ONCOR).tdsp == "ONCOR_ELEC"
    assert [m for m in caplog.messages if "written" in m] == [
        "ERCOT extract.csv: 1 rows read, 1 records written via COPY",
        "ERCOT extract.csv: 3 rows read, 1 records written via COPY",
    ]


def test_a_repeated_run_skips_everything_and_downloads_nothing(mis):
    mis.docs.append(MisDoc("1001", constructed("2026-06-03", "ONCOR_ELEC___DAILY"), make_zip(extract_row(ONCOR))))
    ingest.ercot_fetch()
    downloads = sum(1 for r in mis.requests if "mirDownload" in r.path)

    again = ingest.ercot_fetch()

    assert again.ok and [r["skipped"] for r in again.results] == [True]
    assert sum(1 for r in mis.requests if "mirDownload" in r.path) == downloads == 1
    assert ErcotIngest.objects.count() == 1


def test_a_file_already_in_storage_is_recorded_as_skipped_without_download(mis):
    doc = MisDoc("1001", constructed("2026-06-03", "ONCOR_ELEC___DAILY"), make_zip(extract_row(ONCOR)))
    mis.docs.append(doc)
    default_storage.save(f"ercot/2026-06-03/{doc.name}", __import__("io").BytesIO(doc.body))

    run = ingest.ercot_fetch()

    assert run.results == [
        {"key": f"ercot/2026-06-03/{doc.name}", "skipped": True, "ingestId": ErcotIngest.objects.get().pk}
    ]
    assert not any("mirDownload" in r.path for r in mis.requests)
    row = ErcotIngest.objects.get()
    assert row.status == "skipped" and row.sha256 == __import__("hashlib").sha256(doc.body).hexdigest()
    assert row.rows_loaded == 1 and EsiidRecord.objects.filter(esiid=ONCOR).exists()  # found, never loaded: loaded now


def test_a_size_other_than_the_listing_is_noted_on_a_stored_file(mis):
    doc = MisDoc("1001", constructed("2026-06-03", "ONCOR_ELEC___DAILY"), make_zip(extract_row(ONCOR)))
    mis.docs.append(doc)
    listing = doc.listing
    doc.listing = lambda: {"Document": {**listing()["Document"], "ContentSize": "99"}}
    assert ingest.ercot_fetch().ok
    row = ErcotIngest.objects.get()
    assert (
        row.status == "stored"
        and row.error == f"size differs from the listing: 99 bytes announced, {len(doc.body)} received"
    )


def test_a_corrupt_zip_fails_alone(mis):
    good = MisDoc("1001", constructed("2026-06-03", "ONCOR_ELEC___DAILY"), make_zip(extract_row(ONCOR)))
    corrupt = MisDoc("1002", constructed("2026-06-03", "TNMP_________DAILY", "055219400"), make_zip(SAMPLE_ROWS)[:-40])
    html = MisDoc("1003", constructed("2026-06-03", "LUBBOCK______DAILY", "055219500"), b"<html>Please log in</html>")
    mis.docs += [good, corrupt, html]

    run = ingest.ercot_fetch()

    assert not run.ok
    assert run.results[0]["key"].endswith("ONCOR_ELEC___DAILY.zip")
    assert run.results[1]["name"] == corrupt.name and "unreadable zip" in run.results[1]["error"]
    assert run.results[2]["name"] == html.name and "does not start with PK" in run.results[2]["error"]
    assert list(ErcotIngest.objects.order_by("doc_id").values_list("status", flat=True)) == [
        "stored",
        "failed",
        "failed",
    ]
    assert not default_storage.exists(f"ercot/2026-06-03/{corrupt.name}")
    assert ErcotIngest.objects.get(doc_id="1002").tdsp == "TNMP"


def test_a_failed_document_is_fetched_again_on_the_next_run(mis):
    doc = MisDoc("1001", constructed("2026-06-03", "ONCOR_ELEC___DAILY"), b"not yet")
    mis.docs.append(doc)
    assert not ingest.ercot_fetch().ok
    doc.body = make_zip(extract_row(ONCOR))

    assert ingest.ercot_fetch().ok
    assert ErcotIngest.objects.get().status == "stored"


def test_a_name_outside_the_grammar_fails_with_the_name(mis):
    mis.docs.append(MisDoc("1001", "ONCOR_ELEC___DAILY.zip", make_zip(extract_row(ONCOR))))
    run = ingest.ercot_fetch()
    assert run.results == [{"name": "ONCOR_ELEC___DAILY.zip", "error": run.results[0]["error"]}]
    assert "'ONCOR_ELEC___DAILY.zip' is not an ERCOT constructed name" in run.results[0]["error"]
    assert not default_storage.exists("ercot")


def test_the_date_option_fetches_only_that_central_day(mis):
    mis.docs += [
        MisDoc("1001", constructed("2026-06-02", "ONCOR_ELEC___DAILY"), make_zip(extract_row(ONCOR))),
        MisDoc("1002", constructed("2026-06-03", "ONCOR_ELEC___DAILY"), make_zip(extract_row(ONCOR))),
    ]
    run = ingest.ercot_fetch(day=date(2026, 6, 3))
    assert [r["key"][:17] for r in run.results] == ["ercot/2026-06-03/"]


def test_an_unreachable_listing_is_one_error_result(settings):
    run = ingest.ercot_fetch()
    assert not run.ok and run.method is None
    assert run.results[0]["name"] == "listing" and "mis:" in run.results[0]["error"]


def test_a_forced_method_that_is_not_configured_names_the_missing_variables():
    run = ingest.ercot_fetch(method="api")
    assert run.results == [
        {
            "name": "listing",
            "error": "api: not configured, missing ERCOT_SUBSCRIPTION_KEY, ERCOT_USERNAME, ERCOT_PASSWORD",
        }
    ]


def test_latest_posting_wins_whatever_the_load_order(mis):
    ful = MisDoc(
        "2001",
        constructed("2026-06-01", "ONCOR_ELEC___FUL", "181158000"),
        make_zip(extract_row(ONCOR, status="Active") + extract_row("10443720000000002")),
        "2026-06-01T18:11:58-05:00",
    )
    daily = MisDoc(
        "2002",
        constructed("2026-06-02", "ONCOR_ELEC___DAILY"),
        make_zip(extract_row(ONCOR, status="De-Energized")),
        "2026-06-02T05:52:19-05:00",
    )
    mis.docs += [daily, ful]
    ingest.ercot_fetch(load=False)
    for doc_id in ("2002", "2001"):  # the DAILY first, then the older FUL
        ingest.ingest_load(ingest=ErcotIngest.objects.get(doc_id=doc_id))

    assert EsiidRecord.objects.get(esiid=ONCOR).status == "De-Energized"
    assert EsiidRecord.objects.get(esiid="10443720000000002").ingest_id == ErcotIngest.objects.get(doc_id="2001").pk
    counts = dict(ErcotIngest.objects.values_list("doc_id", "rows_read"))
    assert counts == {"2001": 2, "2002": 1}
    ful = ErcotIngest.objects.get(doc_id="2001")
    assert ful.rows_loaded == 1  # the DAILY's ESIID is posted later: read, not written
    assert (ful.as_json()["rowsRead"], ful.as_json()["rowsLoaded"]) == (2, 1)


def test_bad_rows_are_counted_with_their_line_and_the_rest_loads(mis, caplog):
    caplog.set_level("INFO", logger="ercot.esiids")
    legacy = '"10443720000000003","2 ELM ST",,"DALLAS","TX","75001","1039940674000","07","Active","Residential","ERCOT","_CD","S","Y",,"Residential","Y","AMSM","N"\n'
    text = extract_row(ONCOR) + '"1","2"\n' + extract_row("12AB") + legacy
    mis.docs.append(MisDoc("1001", constructed("2026-06-03", "ONCOR_ELEC___DAILY"), make_zip(text)))
    ingest.ercot_fetch()

    row = ErcotIngest.objects.get()
    assert (row.rows_read, row.rows_loaded) == (4, 2)
    assert [(e["line"], e["error"][:20]) for e in row.row_errors] == [
        (2, "2 fields; expected 2"),
        (3, "ESIID '12AB' is not "),
    ]
    assert "2 row(s) refused" in row.error
    assert "COPY refused the file" in caplog.text and "2 records written row by row, 2 rows refused" in caplog.text
    legacy_record = EsiidRecord.objects.get(esiid="10443720000000003")
    assert (legacy_record.county, legacy_record.duns, legacy_record.tdsp_ams_indicator) == ("", "1039940674000", "AMSM")


def test_health_names_missing_variables_of_partly_configured_methods(settings):
    assert ingest.ercot_health() == {"ok": True, "method": "mis", "missing": [], "methods": ["mis"]}
    settings.ERCOT_USERNAME = "someone"
    settings.ERCOT_EWS_BASE = "https://ews.example"
    health = ingest.ercot_health()
    assert health["missing"] == ["ERCOT_EWS_PFX", "ERCOT_SUBSCRIPTION_KEY", "ERCOT_PASSWORD"]
    assert not health["ok"] and health["method"] == "mis"


def test_esiid_warnings_name_unknown_and_inactive_esiids():
    assert esiids.esiid_warnings([ONCOR]) == []  # nothing loaded yet: nothing to check against
    posted = datetime(2026, 6, 3, tzinfo=UTC)
    rows = [
        extract_row(ONCOR)[:-1].replace('"', "").split(","),
        extract_row("10443720000000002", status="Inactive")[:-1].replace('"', "").split(","),
    ]
    esiids.esiid_records_load(records=rows, tdsp="ONCOR_ELEC", posted_at=posted, ingest_id=None)
    assert esiids.esiid_warnings([ONCOR, "10443720000000002", "10443720000000009"]) == [
        {"esiid": "10443720000000002", "problem": "status Inactive in the ERCOT ESIID extract"},
        {"esiid": "10443720000000009", "problem": "unknown to the ERCOT ESIID extract"},
    ]


def test_the_master_table_keeps_two_byte_ordered_indexes_on_postgresql():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'ercot_esiid_record' ORDER BY 1")
        assert [r[0] for r in cursor.fetchall()] == ["ercot_esiid_record_pkey", "ercot_esiid_zipcode"]
        # Whether the key can serve a prefix search, whatever size the statistics give the table
        # (a FUL load rebuilding the indexes in an earlier, rolled back test updates them).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN SELECT * FROM ercot_esiid_record WHERE esiid LIKE '1044372%%'")
        assert "ercot_esiid_record_pkey" in " ".join(r[0] for r in cursor.fetchall())  # prefix search uses the key
