"""smt.parallel_parse: a big file's parse split across processes gives the serial answer exactly."""

import gzip
import io
import multiprocessing
from datetime import date

import pytest
from django.db import connection

from smt import normalize, parallel_parse, parser
from smt.demo import interval_csv_lines
from smt.models import SmtInterval
from tests.smt.conftest import store

pytestmark = pytest.mark.django_db

ESIIDS = ["10443720000000011", "10443720000000012"]
ROW = "'{esiid},{day},{revision},{start},{end},{kwh},A,Consumption\n"


def generated_file() -> bytes:
    """Two ESIIDs over both 2025 DST days, then rows a later range must still get right:
    a key restated with an older and then a newer revision, a plain re-delivery, and a bad row."""
    spring = list(interval_csv_lines(esiids=ESIIDS, start=date(2025, 3, 8), days=3))
    fall = list(interval_csv_lines(esiids=ESIIDS, start=date(2025, 11, 1), days=3))[1:]
    first = dict(esiid=ESIIDS[0], day="03/08/2025", start="00:00", end="00:15")
    tail = [
        ROW.format(**first, revision="03/01/2025 07:00:00", kwh="9.000"),  # older: loses
        ROW.format(**first, revision="03/20/2025 07:00:00", kwh="1.234"),  # newer: wins
        ROW.format(**first, revision="03/20/2025 07:00:00", kwh="1.500"),  # same revision, later: wins
        ROW.format(**first | {"start": "00:15", "end": "00:30"}, revision="03/20/2025 07:00:00", kwh="abc"),
    ]
    return "".join(spring + fall + tail).encode()


def stored_rows() -> list[tuple]:
    return list(
        SmtInterval.objects.order_by("esiid", "channel", "ts").values_list(
            "esiid", "channel", "ts", "kwh", "quality", "revised_at", "raw_file_id", "row_number"
        )
    )


def normalized(raw, settings, *, parallel: bool) -> tuple[dict, list[tuple]]:
    settings.SMT_PARSE_PARALLEL_MIN_BYTES = 1 if parallel else 1 << 40
    SmtInterval.objects.all().delete()
    stats = normalize.raw_file_normalize(raw_file=raw)
    return stats, stored_rows()


@pytest.fixture
def split_calls(monkeypatch) -> list:
    """Counts files that really took the process pool (the real function still runs)."""
    calls, real = [], parallel_parse._members_rows

    def spy(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(parallel_parse, "_members_rows", spy)
    return calls


@pytest.mark.parametrize("range_bytes", [1, 700, 4096])
def test_parallel_normalize_stores_the_same_rows_and_stats_as_the_serial_one(
    settings, monkeypatch, split_calls, range_bytes
):
    # range_bytes=1 makes every line its own range: every duplicate key and every row of the
    # repeated fall-back hour sits across a range boundary from the rows before it.
    monkeypatch.setattr(parallel_parse, "RANGE_BYTES", range_bytes)
    settings.SMT_PARSE_WORKERS = 2
    raw = store(generated_file())
    serial_stats, serial_rows = normalized(raw, settings, parallel=False)
    assert not split_calls
    parallel_stats, parallel_rows = normalized(raw, settings, parallel=True)
    assert split_calls  # twice: the in-file duplicates send the direct COPY back to staging
    assert parallel_rows == serial_rows and parallel_stats == serial_stats | {"parseWorkers": 2}
    assert serial_stats["parseWorkers"] == 1
    assert serial_stats["intervalsInserted"] == 2 * (96 + 92 + 96 + 96 + 100 + 96)
    assert serial_stats["dstGapRowsSkipped"] == 2 * 4 and serial_stats["duplicatesInFile"] == 3


def test_newest_revision_then_last_row_wins_across_ranges(settings, monkeypatch):
    monkeypatch.setattr(parallel_parse, "RANGE_BYTES", 1)
    settings.SMT_PARSE_PARALLEL_MIN_BYTES, settings.SMT_PARSE_WORKERS = 1, 2
    raw = store(generated_file())
    normalize.raw_file_normalize(raw_file=raw)
    row = SmtInterval.objects.get(esiid=ESIIDS[0], ts="2025-03-08T06:00:00Z")
    last_line = generated_file().decode().count("\n")
    assert str(row.kwh) == "1.500" and row.row_number == last_line - 1


def test_bad_row_in_a_later_range_is_reported_with_its_real_line_number(settings, monkeypatch):
    monkeypatch.setattr(parallel_parse, "RANGE_BYTES", 4096)
    settings.SMT_PARSE_PARALLEL_MIN_BYTES, settings.SMT_PARSE_WORKERS = 1, 2
    data = generated_file()
    stats = normalize.raw_file_normalize(raw_file=store(data))
    last_line = data.decode().count("\n")
    assert stats["invalid"] == {
        "kwh": {"count": 1, "rows": [str(last_line)], "messages": ["USAGE_KWH 'abc' is not a non-negative number"]}
    }


def test_fall_back_hour_split_across_ranges_gets_both_instants(settings):
    header, *body = generated_file().decode().splitlines(keepends=True)
    fall = [line for line in body if ",11/02/2025," in line and line.startswith(f"'{ESIIDS[0]}")]
    data = (header + "".join(fall)).encode()
    settings.SMT_PARSE_PARALLEL_MIN_BYTES, settings.SMT_PARSE_WORKERS = 1, 2
    serial_stats, parallel_stats = parser.ParseStats(), parser.ParseStats()
    serial = list(parser.iter_rows(io.BytesIO(data), serial_stats))
    parallel = list(parallel_parse.file_rows_parallel(io.BytesIO(data), parallel_stats, range_bytes=1))
    assert parallel == serial and parallel_stats == serial_stats
    assert len({row.ts for row in parallel}) == 100


def test_gzip_file_is_decompressed_then_split_with_the_same_answer(settings):
    data = generated_file()
    settings.SMT_PARSE_PARALLEL_MIN_BYTES, settings.SMT_PARSE_WORKERS = 1, 2
    serial_stats, parallel_stats = parser.ParseStats(), parser.ParseStats()
    serial = list(parser.iter_rows(io.BytesIO(data), serial_stats))
    parallel = list(
        parallel_parse.file_rows_parallel(io.BytesIO(gzip.compress(data)), parallel_stats, range_bytes=2048)
    )
    assert parallel == serial and parallel_stats == serial_stats


def test_quoted_file_is_read_serially_with_the_same_answer(settings, split_calls):
    data = generated_file().replace(b",A,", b',"A",')
    settings.SMT_PARSE_PARALLEL_MIN_BYTES = 1
    stats = parser.ParseStats()
    rows = list(parallel_parse.file_rows_parallel(io.BytesIO(data), stats, range_bytes=2048))
    assert not split_calls and len(rows) == stats.valid and stats.valid > 1000


def test_small_file_stays_in_one_process(settings, split_calls):
    settings.SMT_PARSE_PARALLEL_MIN_BYTES = 1 << 30
    stats = normalize.raw_file_normalize(raw_file=store(generated_file()))
    assert not split_calls and stats["validRows"] > 1000 and connection.vendor == "postgresql"


def test_daemonic_worker_parses_serially_instead_of_failing_to_start_a_pool(settings, monkeypatch, split_calls):
    # django-q2's workers are daemonic by default, and a daemonic process may not have children.
    monkeypatch.setitem(multiprocessing.current_process()._config, "daemon", True)
    settings.SMT_PARSE_PARALLEL_MIN_BYTES = 1
    stats = normalize.raw_file_normalize(raw_file=store(generated_file()))
    assert not split_calls and stats["validRows"] > 1000 and stats["parseWorkers"] == 1
