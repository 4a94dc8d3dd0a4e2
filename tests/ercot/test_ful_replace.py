"""A FUL file replaces the rows it supersedes (plain INSERT); the table equals the upsert path's."""

import io
from datetime import UTC, datetime

import pytest
from django.db import connection

from ercot import esiids, extract
from ercot.models import EsiidRecord
from tests.ercot.conftest import SAMPLE_ROWS, extract_row

pytestmark = pytest.mark.django_db

MAY, JUNE, JUNE_2, JULY = (datetime(2026, m, d, 23, tzinfo=UTC) for m, d in ((5, 1), (6, 1), (6, 2), (7, 1)))
ONCOR = [f"104437200000000{i:02d}" for i in range(1, 9)]
CNP = "1008901023817895470106"


# A file size far above the table's (every FUL takes the new-table path), or none (the staging path,
# except into an empty table).
SWAP, STAGE = 10**9, None


def load(text: str, posted_at: datetime, kind: str, tdsp: str = "ONCOR_ELEC", size: int | None = STAGE) -> int:
    return load_counted(text, posted_at, kind, tdsp, size).written


def load_counted(
    text: str, posted_at: datetime, kind: str, tdsp: str = "ONCOR_ELEC", size: int | None = STAGE
) -> esiids.Loaded:
    errors = extract.RowErrors()
    loaded = esiids.esiid_csv_load(
        fileobj=io.BytesIO(text.encode()),
        member="extract.csv",
        errors=errors,
        tdsp=tdsp,
        posted_at=posted_at,
        ingest_id=None,
        kind=kind,
        size=size,
    )
    assert errors.count == 0
    return loaded


def table() -> list[tuple]:
    return list(EsiidRecord.objects.order_by("esiid").values_list(*extract.COLUMNS, "tdsp", "posted_at"))


def indexes() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'ercot_esiid_record' ORDER BY 1")
        return [r[0] for r in cursor.fetchall()]


# Files in the order they are loaded: a later DAILY before the FUL it follows, an older FUL after it,
# a FUL with a repeated ESIID, another TDSP's FUL, and a FUL that leaves out ESIIDs already stored.
SEQUENCE = [
    (
        extract_row(ONCOR[0], status="De-Energized") + extract_row(ONCOR[7], address="8 NEW ST"),
        JUNE_2,
        "DAILY",
        "ONCOR_ELEC",
    ),
    (SAMPLE_ROWS, JUNE, "FUL", "CENTERPOINT"),
    ("".join(extract_row(e) for e in ONCOR[:6]) + extract_row(ONCOR[2], status="Inactive"), JUNE, "FUL", "ONCOR_ELEC"),
    ("".join(extract_row(e, address="OLD ADDRESS") for e in ONCOR), MAY, "FUL", "ONCOR_ELEC"),
    ("".join(extract_row(e, zipcode="75002") for e in ONCOR[1:4]), JULY, "FUL", "ONCOR_ELEC"),
]


@pytest.mark.parametrize("size", [SWAP, STAGE])
def test_a_ful_keeps_rows_posted_later_and_drops_nothing_newer(size):
    load(extract_row(ONCOR[0], status="De-Energized"), JUNE_2, "DAILY")
    load(extract_row(CNP), JUNE_2, "DAILY", tdsp="CENTERPOINT")

    written = load("".join(extract_row(e) for e in ONCOR[:3]), JUNE, "FUL", size=size)

    assert written == 2  # ONCOR[0] is posted later than this file: not replaced
    got = {r.esiid: (r.status, r.posted_at) for r in EsiidRecord.objects.all()}
    assert got == {
        ONCOR[0]: ("De-Energized", JUNE_2),
        ONCOR[1]: ("Active", JUNE),
        ONCOR[2]: ("Active", JUNE),
        CNP: ("Active", JUNE_2),
    }
    assert indexes() == ["ercot_esiid_record_pkey", "ercot_esiid_zipcode"]


@pytest.mark.parametrize("kind, size", [("FUL", SWAP), ("FUL", STAGE), ("DAILY", STAGE)])
def test_a_file_older_than_every_stored_row_reports_its_rows_read_and_none_written(kind, size):
    load("".join(extract_row(e, status="De-Energized") for e in ONCOR[:3]), JUNE_2, "DAILY")

    loaded = load_counted("".join(extract_row(e) for e in ONCOR[:3]) + extract_row(ONCOR[0]), JUNE, kind, size=size)

    assert loaded == esiids.Loaded(read=4, written=0)  # the repeated ESIID was read too
    assert set(EsiidRecord.objects.values_list("status", flat=True)) == {"De-Energized"}


@pytest.mark.parametrize("size", [SWAP, STAGE])
def test_a_ful_replaces_older_rows_and_keeps_esiids_it_leaves_out(size):
    load("".join(extract_row(e) for e in ONCOR[:3]), MAY, "FUL", size=size)

    load(
        extract_row(ONCOR[1], status="Inactive") + extract_row(ONCOR[1], status="De-Energized"), JUNE, "FUL", size=size
    )

    got = {r.esiid: (r.status, r.posted_at) for r in EsiidRecord.objects.all()}
    assert got == {ONCOR[0]: ("Active", MAY), ONCOR[1]: ("De-Energized", JUNE), ONCOR[2]: ("Active", MAY)}
    assert indexes() == ["ercot_esiid_record_pkey", "ercot_esiid_zipcode"]
    with connection.cursor() as cursor:  # the rebuilt key still refuses a second row for an ESIID
        cursor.execute("SELECT count(*) FROM pg_constraint WHERE conname = 'ercot_esiid_record_pkey' AND contype = 'p'")
        assert cursor.fetchone()[0] == 1


@pytest.mark.parametrize("size", [SWAP, STAGE])
@pytest.mark.parametrize("order", ["as listed", "reversed"])
def test_the_ful_path_gives_the_upsert_paths_table(order, size):
    files = SEQUENCE if order == "as listed" else SEQUENCE[::-1]
    written_ful = [load(text, posted, kind, tdsp, size) for text, posted, kind, tdsp in files]
    with_ful = table()
    EsiidRecord.objects.all().delete()

    written_upsert = [load(text, posted, "DAILY", tdsp) for text, posted, _, tdsp in files]

    assert table() == with_ful
    assert written_ful == written_upsert
    assert indexes() == ["ercot_esiid_record_pkey", "ercot_esiid_zipcode"]
    final = {r[0]: (r[9], r[5], r[-1]) for r in with_ful if r[0] in ONCOR}
    assert final[ONCOR[0]] == ("De-Energized", "75001", JUNE_2)
    assert final[ONCOR[2]] == ("Active", "75002", JULY)
    assert final[ONCOR[7]][2] == JUNE_2 and final[ONCOR[6]][2] == MAY


def test_a_ful_with_a_bad_row_falls_back_to_the_row_path_and_leaves_the_table_whole():
    load(extract_row(ONCOR[0]), MAY, "FUL", size=SWAP)
    errors = extract.RowErrors()
    text = extract_row(ONCOR[1]) + extract_row("12AB")
    loaded = esiids.esiid_csv_load(
        fileobj=io.BytesIO(text.encode()),
        member="extract.csv",
        errors=errors,
        tdsp="ONCOR_ELEC",
        posted_at=JUNE,
        ingest_id=None,
        kind="FUL",
        size=SWAP,
    )
    assert loaded == esiids.Loaded(read=2, written=1) and errors.count == 1  # the refused row was read too
    assert sorted(EsiidRecord.objects.values_list("esiid", flat=True)) == ONCOR[:2]
    assert indexes() == ["ercot_esiid_record_pkey", "ercot_esiid_zipcode"]
