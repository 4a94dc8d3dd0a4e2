"""ercot.extract: ERCOT's constructed names and the 22-column CSV."""

import io
from datetime import UTC, datetime

import pytest

from ercot import extract
from tests.ercot.conftest import SAMPLE_ROWS, make_zip


@pytest.mark.parametrize(
    "name, key, tdsp, kind, published",
    [
        (
            "ext.00000203.0000000000000000.20260603.055219164.ONCOR_ELEC___DAILY.zip",
            "ercot/2026-06-03/ext.00000203.0000000000000000.20260603.055219164.ONCOR_ELEC___DAILY.zip",
            "ONCOR_ELEC",
            "DAILY",
            datetime(2026, 6, 3, 10, 52, 19, 164000, tzinfo=UTC),
        ),
        # A FUL posted 18:12 CST is 00:12Z the next day: the key keeps the Central date.
        (
            "ext.00000203.0000000000000000.20261201.181158.SHARYLAND_MCALLEN_FUL.zip",
            "ercot/2026-12-01/ext.00000203.0000000000000000.20261201.181158.SHARYLAND_MCALLEN_FUL.zip",
            "SHARYLAND_MCALLEN",
            "FUL",
            datetime(2026, 12, 2, 0, 11, 58, tzinfo=UTC),
        ),
    ],
)
def test_names_give_the_central_date_key_tdsp_and_kind(name, key, tdsp, kind, published):
    parsed = extract.parse_name(name)
    assert (parsed.storage_key, parsed.tdsp, parsed.kind, parsed.published_at) == (key, tdsp, kind, published)


@pytest.mark.parametrize(
    "name, message",
    [
        ("mirDownload?doclookupId=1234", "is not an ERCOT constructed name"),
        ("rpt.00013057.0000000000000000.20241105.031610.2_Day_AS_Disclosure.zip", "report type 13057, not 203"),
        ("ext.00000203.0000000000000000.20260603.055219164.ONCOR_ELEC.zip", "does not end in _FUL or _DAILY"),
        ("ext.00000203.0000000000000000.20261332.055219164.ONCOR_ELEC___FUL.zip", "is not a date and time"),
    ],
)
def test_bad_names_are_refused_with_the_name(name, message):
    with pytest.raises(extract.NameRejected, match=message):
        extract.parse_name(name)


def test_rows_keep_every_field_as_text_with_quoted_commas():
    errors = extract.RowErrors()
    rows = list(extract.iter_records(io.BytesIO(SAMPLE_ROWS.encode()), errors))
    assert len(rows) == 3 and errors.count == 0 and all(len(r) == 22 for r in rows)
    assert rows[0][15] == "06/01/2026,Move In" and rows[0][7] == "957877905" and rows[1][6] == ""
    assert dict(zip(extract.COLUMNS, rows[0], strict=True))["premise_subtype_desc"] == "FIREWORKS STAND"


def test_zip_check_lists_csv_members_and_refuses_the_rest():
    assert extract.zip_check(io.BytesIO(make_zip(SAMPLE_ROWS, "CENTERPOINT__FUL-REPORTS-06-JUL-26.CSV"))) == [
        "CENTERPOINT__FUL-REPORTS-06-JUL-26.CSV"
    ]
    with pytest.raises(ValueError, match="no .csv member"):
        extract.zip_check(io.BytesIO(make_zip("x", "readme.txt")))
    with pytest.raises(ValueError, match="does not start with PK"):
        extract.zip_check(io.BytesIO(b"<!DOCTYPE html>"))
    broken = bytearray(make_zip(SAMPLE_ROWS * 50))
    broken[60:70] = b"0123456789"  # inside the compressed data: the CRC check catches it
    with pytest.raises(ValueError, match="unreadable zip"):
        extract.zip_check(io.BytesIO(bytes(broken)))


def test_a_byte_order_mark_and_crlf_lines_are_read_past():
    errors = extract.RowErrors()
    data = ("\ufeff" + SAMPLE_ROWS.replace("\n", "\r\n")).encode()
    rows = list(extract.iter_records(io.BytesIO(data), errors))
    assert errors.count == 0 and rows[0][0] == "1008901023817895470106" and rows[2][21] == ""
