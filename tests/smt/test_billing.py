import io
from datetime import date
from decimal import Decimal

import pytest

from smt import billing, ingest, parser
from tests.smt.test_ingest import store

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "header",
    [
        "ESIID,USAGE_DATE,REVISION_DATE,START_READING,END_READING,USAGE_KWH",
        "esiid,readDate,revisionDate,startReading,endReading,energyDataKwh",
        " EsiId , Read_Date , Revision_Date , StartReading , EndReading , ENERGY_DATA_KWH ",
        "ESIID,date,REVISION_DATE,STARTREADING,ENDREADING,reading",
    ],
)
def test_header_aliases_read_the_same_values(header):
    data = f"{header}\n'10443720000000002,04/21/2020,04/22/2020 07:41:22,24002.915,24038.915,36.492\n"
    rows, errors = billing.billing_rows_parse(io.BytesIO(data.encode()))
    assert errors == {}
    (row,) = rows
    assert row.esiid == "10443720000000002" and row.read_date == date(2020, 4, 21)
    # Stored as given: end - start (36.000) differs from the kWh (36.492), and that is fine.
    assert (row.start, row.end, row.kwh) == (Decimal("24002.915"), Decimal("24038.915"), Decimal("36.492"))
    assert row.revised_at.isoformat() == "2020-04-22T12:41:22+00:00"


def test_an_unknown_header_fails_naming_the_columns_found_and_keeps_the_raw_file():
    raw = store(b"ACCOUNT,DAY,VALUE\n1,2,3\n", name="DailyMeterUsage1.csv")
    stats = ingest.raw_file_ingest(raw_file=raw)
    raw.refresh_from_db()
    assert raw.status == "failed" and "columns found: 'ACCOUNT,DAY,VALUE'" in stats["error"]
    assert raw.storage_key  # kept for when the real header is known


def test_latest_revision_wins_whatever_the_order():
    header = "ESIID,READ_DATE,REVISION_DATE,USAGE_KWH\n"
    newer = store((header + "'10443720000000002,12/14/2025,12/16/2025 08:00:00,40.000\n").encode())
    older = store((header + "'10443720000000002,12/14/2025,12/15/2025 08:00:00,39.000\n").encode())
    assert ingest.raw_file_ingest(raw_file=newer)["billingReadsInserted"] == 1
    stats = ingest.raw_file_ingest(raw_file=older)
    assert stats["billingReadsUpdated"] == 0 and stats["duplicatesSkipped"] == 1
    read = billing.SmtBillingRead.objects.get()
    assert read.kwh == Decimal("40.000") and read.raw_file == newer and read.start_reading is None


def test_bad_rows_are_counted_with_their_line_and_good_rows_kept():
    data = (
        b"ESIID,READ_DATE,USAGE_KWH\n'10443720000000002,12/14/2025,1.5\n'123,12/14/2025,1\n"
        b"'10443720000000002,14/12/2025,1\n'10443720000000002,12/15/2025,lots\n"
    )
    raw = store(data)
    stats = ingest.raw_file_ingest(raw_file=raw)
    assert stats["validRows"] == 1 and stats["invalidCount"] == 3
    assert stats["invalid"]["billing"]["rows"] == ["3", "4", "5"]
    assert "not a number" in stats["invalid"]["billing"]["messages"][2]


def test_a_file_without_valid_rows_is_refused():
    with pytest.raises(parser.FileRejected, match="line 2"):
        billing.billing_reads_ingest(raw_file=store(b"x"), fileobj=io.BytesIO(b"ESIID,READ_DATE,USAGE_KWH\n'1,2,3\n"))
