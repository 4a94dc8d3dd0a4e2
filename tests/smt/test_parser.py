import gzip
import io
import zipfile
from datetime import UTC, datetime

import pytest

from smt import parser
from tests.conftest import SMT_SAMPLES


def parse(data: bytes):
    stats = parser.ParseStats()
    rows = list(parser.iter_rows(io.BytesIO(data), stats))
    return rows, stats


def utc(row) -> datetime:
    return datetime.fromtimestamp(row.ts, tz=UTC)


@pytest.mark.parametrize(
    "name, count, gaps, estimated, wh",
    [
        ("portal-IntervalData-2022-excerpt.csv", 197, 4, 0, 18098),
        ("portal-IntervalData-2025-03-09-spring-forward.csv", 92, 4, 0, 42720),
        ("portal-IntervalData-2025-11-02-fall-back.csv", 100, 0, 0, 52788),
        ("portal-IntervalData-2025-12-14-estimated.csv", 96, 0, 16, 85947),
        ("IntervalMeterUsage202512012104421513F4F9339E4024C89B21685CA1223B8AEEML.CSV", 96, 0, 0, 57087),
        ("IntervalMeterUsage202512152104279823F4F9339E4024C89B21685CA1223B8AEEML.CSV", 96, 0, 16, 85947),
        ("excel-resaved-IntervalData-excerpt.csv", 209, 4, 7, 47877),
    ],
)
def test_real_samples_give_hand_counted_intervals_and_kwh(name, count, gaps, estimated, wh):
    rows, stats = parse((SMT_SAMPLES / name).read_bytes())
    assert len(rows) == count == stats.valid
    assert stats.dst_gap_skipped == gaps
    assert stats.invalid == {}
    assert sum(r.quality == "estimated" for r in rows) == estimated
    assert sum(r.wh for r in rows) == wh == stats.consumption_wh
    assert len({(r.esiid, r.channel, r.ts) for r in rows}) == count  # every row its own UTC instant


def test_fall_back_day_maps_100_rows_to_100_distinct_utc_instants():
    rows, _ = parse((SMT_SAMPLES / "portal-IntervalData-2025-11-02-fall-back.csv").read_bytes())
    starts = [utc(r) for r in rows]
    assert starts == sorted(starts) and len(set(starts)) == 100
    assert starts[0] == datetime(2025, 11, 2, 5, 0, tzinfo=UTC)
    assert starts[4] == datetime(2025, 11, 2, 6, 0, tzinfo=UTC)  # 01:00 CDT
    assert starts[8] == datetime(2025, 11, 2, 7, 0, tzinfo=UTC)  # the "02:00,01:15" row: 01:00 CST
    assert starts[12] == datetime(2025, 11, 2, 8, 0, tzinfo=UTC)  # 02:00 CST
    assert starts[99] == datetime(2025, 11, 3, 5, 45, tzinfo=UTC)


def test_spring_forward_day_skips_the_missing_hour():
    rows, stats = parse((SMT_SAMPLES / "portal-IntervalData-2025-03-09-spring-forward.csv").read_bytes())
    starts = [utc(r) for r in rows]
    assert len(rows) == 92 and stats.dst_gap_skipped == 4
    assert starts[7] == datetime(2025, 3, 9, 7, 45, tzinfo=UTC)
    assert starts[8] == datetime(2025, 3, 9, 8, 0, tzinfo=UTC)  # 03:00 CDT
    assert starts[-1] == datetime(2025, 3, 10, 4, 45, tzinfo=UTC)


def test_fall_back_repeat_is_found_on_a_partial_day_missing_the_first_hour():
    data = (SMT_SAMPLES / "portal-IntervalData-2025-11-02-fall-back.csv").read_bytes().splitlines(keepends=True)
    partial = data[0:1] + data[9:]  # header, then from the "02:00,01:15" row on
    rows, _ = parse(b"".join(partial))
    assert utc(rows[0]) == datetime(2025, 11, 2, 7, 0, tzinfo=UTC)
    assert utc(rows[3]) == datetime(2025, 11, 2, 7, 45, tzinfo=UTC)
    assert utc(rows[4]) == datetime(2025, 11, 2, 8, 0, tzinfo=UTC)


def test_crlf_bom_and_no_final_newline_parse_the_same():
    data = (SMT_SAMPLES / "portal-IntervalData-2025-12-14-estimated.csv").read_bytes()
    variant = b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n").rstrip(b"\r\n")
    assert parse(variant)[0] == parse(data)[0]


def test_zip_and_gzip_containers_give_the_same_rows():
    data = (SMT_SAMPLES / "portal-IntervalData-2025-12-14-estimated.csv").read_bytes()
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("IntervalData.csv", data)
    zipped_rows, _ = parse(packed.getvalue())
    assert [r.ts for r in zipped_rows] == [r.ts for r in parse(data)[0]]
    assert len(parse(gzip.compress(data))[0]) == 96


def test_legacy_iso_dialect_with_padded_kwh():
    data = (
        b"ESIID,USAGE_DATE,USAGE_START_TIME,USAGE_END_TIME,USAGE_KWH,ESTIMATED_ACTUAL,CONSUMPTION_GENERATION\n"
        b"10443720000000005,2017-08-31, 23:45, 00:00, 000000000000007.980,A,Consumption\n"
    )
    rows, stats = parse(data)
    assert rows[0].wh == 7980 and rows[0].revised is None
    assert utc(rows[0]) == datetime(2017, 9, 1, 4, 45, tzinfo=UTC)


def test_surplus_generation_is_its_own_channel():
    data = (
        b"ESIID,USAGE_DATE,REVISION_DATE,USAGE_START_TIME,USAGE_END_TIME,USAGE_KWH,ESTIMATED_ACTUAL,CONSUMPTION_SURPLUSGENERATION\n"
        b"'10443720000000002,12/14/2025,12/15/2025 07:38:23,00:00,00:15,0.356,A,Consumption\n"
        b"'10443720000000002,12/14/2025,12/15/2025 07:38:23,00:00,00:15,0.100,A,Surplus Generation\n"
    )
    rows, stats = parse(data)
    assert [r.channel for r in rows] == ["consumption", "generation"]
    assert stats.consumption_wh == 356 and stats.generation_wh == 100


def test_bad_rows_are_counted_by_kind_with_row_numbers_and_good_rows_kept():
    header = parser.EXPECTED_HEADER + "\n"
    good = "'10443720000000002,12/14/2025,12/15/2025 07:38:23,00:00,00:15,0.356,A,Consumption\n"
    data = (
        header
        + good
        + "'1044372,12/14/2025,12/15/2025 07:38:23,00:15,00:30,0.1,A,Consumption\n"
        + "'10443720000000002,13/45/2025,12/15/2025 07:38:23,00:30,00:45,0.1,A,Consumption\n"
        + "'10443720000000002,12/14/2025,12/15/2025 07:38:23,00:45,01:00,abc,A,Consumption\n"
        + "'10443720000000002,12/14/2025,12/15/2025 07:38:23,01:00,01:15,0.1,A,Exported\n"
        + "'10443720000000002,12/14/2025\n"
    ).encode()
    rows, stats = parse(data)
    assert len(rows) == 1
    assert {kind: e["rows"] for kind, e in stats.invalid.items()} == {
        "esiid": ["3"],
        "timestamp": ["4"],
        "kwh": ["5"],
        "channel": ["6"],
        "truncated": ["7"],
    }


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"\x00\x01\x02binary\xff\xfe", "binary"),
        (b"name,value\nfoo,1\n", "no SMT interval header"),
        (b"\xff\xd8\xff\xe0JFIF" + bytes(range(256)), "binary"),
        (b"A" * 200_000, "longer than"),
    ],
)
def test_unusable_files_are_rejected_with_what_was_expected(data, message):
    with pytest.raises(parser.FileRejected, match=message):
        parse(data)


def test_zip_with_escaping_member_path_is_rejected():
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("../x.csv", parser.EXPECTED_HEADER)
    with pytest.raises(parser.FileRejected, match="unsafe path"):
        parse(packed.getvalue())


def test_parser_memory_does_not_grow_with_file_size():
    import tracemalloc

    def stream(days: int) -> io.BytesIO:
        lines = [parser.EXPECTED_HEADER]
        for day in range(days):
            month, dom = 1 + day // 28, 1 + day % 28
            for q in range(96):
                lines.append(
                    f"'10443720000000001,{month:02d}/{dom:02d}/2024,01/01/2025 06:00:00,{q // 4:02d}:{q % 4 * 15:02d},00:00,0.250,A,Consumption"
                )
        return io.BytesIO("\n".join(lines).encode())

    peaks = []
    for days in (28, 280):
        data = stream(days)
        tracemalloc.start()
        stats = parser.ParseStats()
        count = sum(1 for _ in parser.iter_rows(data, stats))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert count + stats.invalid_count == days * 96  # the DST gap rows of the synthetic data carry values
    assert peaks[1] < peaks[0] * 2 + 256 * 1024
