"""Spreadsheet-mangled SMT exports (shared/formats/samples/real/smt-variants, read in place)."""

import io
from pathlib import Path

import pytest

from smt.parser import FileRejected, ParseStats, iter_rows
from smt.spreadsheet import esiid_scientific_resolve, spreadsheet_open

VARIANTS = Path(__file__).resolve().parents[3] / "shared" / "formats" / "samples" / "real" / "smt-variants"
ESIID = "10443720001617272"


def parsed(fileobj, expected: str | None = None) -> tuple[list, ParseStats, list[str]]:
    stream, fixes = spreadsheet_open(fileobj, expected_esiid=expected)
    stats = ParseStats()
    rows = list(iter_rows(stream, stats))
    return rows, stats, fixes.messages()


def key(rows: list) -> list[tuple]:
    return [(row.esiid, row.channel, row.ts, row.wh, row.quality, row.revised) for row in rows]


def test_the_utf16_export_reads_like_utf8_and_says_so():
    rows, stats, said = parsed((VARIANTS / "v4_utf16.csv").open("rb"))
    assert len(rows) == 8740 and stats.invalid_count == 0
    assert said == ["read as UTF-16 text (a spreadsheet's Unicode save)"]


def test_the_parser_reads_utf16_itself_and_keeps_the_fix_for_the_result():
    stats = ParseStats()
    rows = list(iter_rows((VARIANTS / "v4_utf16.csv").open("rb"), stats))
    assert key(rows) == key(parsed((VARIANTS / "v4_utf16.csv").open("rb"))[0])
    assert stats.notes_all() == ["read as UTF-16 text (a spreadsheet's Unicode save)"]


def test_the_parser_reads_a_scientific_esiid_as_the_expected_one_inside_a_zip():
    import zipfile

    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("usage.csv", (VARIANTS / "v3_excel_scientific_esiid.csv").read_bytes())
    packed.seek(0)
    stats = ParseStats()
    rows = list(iter_rows(packed, stats, expected_esiid=ESIID))
    assert rows and {row.esiid for row in rows} == {ESIID}
    assert f"was read as {ESIID}" in stats.notes_all()[0]


def test_excels_unicode_text_save_utf16_with_tabs_gives_the_same_rows():
    text = (VARIANTS / "v4_utf16.csv").read_bytes().decode("utf-16")
    tabbed = io.BytesIO(text.replace(",", "\t").encode("utf-16"))
    rows, _, said = parsed(tabbed)
    assert key(rows) == key(parsed((VARIANTS / "v4_utf16.csv").open("rb"))[0])
    assert said == ["read as UTF-16 text (a spreadsheet's Unicode save)", "tab-separated columns read as commas"]


def test_scientific_esiid_agreeing_with_the_uploads_esiid_is_read_as_it_and_reported():
    rows, stats, said = parsed((VARIANTS / "v3_excel_scientific_esiid.csv").open("rb"), ESIID)
    assert len(rows) == 8740 and stats.invalid_count == 0 and {row.esiid for row in rows} == {ESIID}
    assert said == [
        f"an ESIID in scientific notation on 8740 rows was read as {ESIID}, the upload's ESIID, "
        "whose digits it agrees with"
    ]
    assert key(rows) == key(parsed((VARIANTS / "v4_utf16.csv").open("rb"))[0])


def test_scientific_esiid_without_a_named_esiid_is_refused_saying_how_to_fix_the_spreadsheet():
    with pytest.raises(
        FileRejected, match=r"row 2: ESIID '1.04437E\+16' is in scientific notation.*format the ESIID column as Text"
    ):
        parsed((VARIANTS / "v3_excel_scientific_esiid.csv").open("rb"))


def test_scientific_esiid_that_disagrees_with_the_named_esiid_is_refused():
    with pytest.raises(FileRejected, match="does not agree with the upload's ESIID 10443820001617272"):
        parsed((VARIANTS / "v3_excel_scientific_esiid.csv").open("rb"), "10443820001617272")


def test_resolving_checks_digit_count_and_rounding():
    assert esiid_scientific_resolve("1.04437E+16", expected="10443749999999999", row=2) == "10443749999999999"
    assert esiid_scientific_resolve("1.04438E+16", expected="10443750000000000", row=2) == "10443750000000000"
    assert esiid_scientific_resolve(ESIID, expected=ESIID, row=2) is None
    with pytest.raises(FileRejected, match="row 7"):
        esiid_scientific_resolve("1.04437E+21", expected=ESIID, row=7)


def test_a_clean_file_comes_back_untouched():
    with (VARIANTS / "v7_solar_interleaved.csv").open("rb") as original:
        stream, fixes = spreadsheet_open(original, expected_esiid=ESIID)
        assert stream is original and stream.tell() == 0 and fixes.messages() == []


def test_rewinding_the_wrapped_stream_reads_it_again_for_a_second_pass():
    stream, fixes = spreadsheet_open((VARIANTS / "v3_excel_scientific_esiid.csv").open("rb"), expected_esiid=ESIID)
    first = list(iter_rows(stream, ParseStats()))
    stream.seek(0)
    second = list(iter_rows(stream, ParseStats()))
    assert key(first) == key(second) and fixes.esiid_rows == 8740
