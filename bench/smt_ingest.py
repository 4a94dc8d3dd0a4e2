"""SMT ingest throughput on PostgreSQL: a generated year for 50 ESIIDs (1.75 M intervals).

Measured in one run, each on an emptied smt_interval table with its indexes in place:
  ours         raw_file_normalize on the stored file: parse + COPY to staging + one upsert
  re-ingest    the same file again: every row a duplicate
  bulk_create  our parser, then a plain Django bulk_create(ignore_conflicts=True)
  raw COPY     COPY of the already-normalized rows: the floor nothing can beat
Goals: ours >= 0.5x raw COPY, >= 3x bulk_create; re-ingest at least as fast as the first.
The fast paths run --rounds times, interleaved, and the best time of each counts (shared machine).

Then the parse split (issue 12: ours >= 0.8x raw COPY in a single round): raw COPY, normalize
with the serial parser and normalize with the parse across processes (smt/parallel_parse.py),
interleaved, 3 single rounds each, every round reported. --parallel-only (or
SMT_BENCH_PARALLEL_ONLY=1 through bin/bench.sh) runs that part alone.

    .venv/bin/python bench/smt_ingest.py [--esiids 50] [--days 365] [--parallel-only]
"""

import argparse
import os
import sys
import tempfile
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import django_setup, log, table, timed, verdict  # noqa: E402

BATCH = 5000


def esiids(count: int) -> list[str]:
    return [f"10443720{n:09d}" for n in range(1, count + 1)]


def store_generated(count: int, days: int):
    from smt import storage
    from smt.demo import interval_csv_write

    with tempfile.TemporaryFile() as handle:
        sha256, size = interval_csv_write(handle, esiids=esiids(count), start=date(2024, 1, 1), days=days)
        stored = storage.raw_file_store(
            fileobj=handle,
            sha256=sha256,
            size=size,
            filename="bench-year.csv",
            source="bench",
            meter="BENCH",
            kind="interval",
            uploader="bench",
            origin="command",
        )
    return stored.raw_file


def empty_table() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE smt_interval")
        cursor.execute("VACUUM ANALYZE smt_interval")


def parse_only(raw) -> int:
    from django.core.files.storage import default_storage

    from smt import parser

    with default_storage.open(raw.storage_key, "rb") as fileobj:
        return sum(1 for _ in parser.iter_rows(fileobj, parser.ParseStats()))


def bulk_create(raw) -> int:
    """The plain Django path from the same file: model instances in batches."""
    from django.core.files.storage import default_storage

    from smt import parser
    from smt.models import SmtInterval

    count, batch = 0, []
    with default_storage.open(raw.storage_key, "rb") as fileobj:
        for r in parser.iter_rows(fileobj, parser.ParseStats()):
            batch.append(
                SmtInterval(
                    esiid=r.esiid,
                    meter="BENCH",
                    channel=r.channel,
                    ts=datetime.fromtimestamp(r.ts, UTC),
                    kwh=Decimal(r.wh).scaleb(-3),
                    quality=r.quality,
                    revised_at=datetime.fromtimestamp(r.revised, UTC) if r.revised else None,
                    raw_file_id=raw.pk,
                    row_number=r.row,
                )
            )
            if len(batch) >= BATCH:
                count += len(SmtInterval.objects.bulk_create(batch, ignore_conflicts=True))
                batch = []
        count += len(SmtInterval.objects.bulk_create(batch, ignore_conflicts=True))
    return count


COLUMNS = "esiid, meter, channel, ts, kwh, quality, revised_at, raw_file_id, row_number"


def export_rows(path: Path) -> None:
    from django.db import connection

    # COPY ... TO cannot read a partitioned table itself (smt_interval is one on PostgreSQL).
    with (
        connection.cursor() as cursor,
        open(path, "wb") as out,
        cursor.cursor.copy(f"COPY (SELECT {COLUMNS} FROM smt_interval) TO STDOUT") as copy,
    ):
        for block in copy:
            out.write(block)


def raw_copy(path: Path) -> int:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor, open(path, "rb") as source:
        with cursor.cursor.copy(f"COPY smt_interval ({COLUMNS}) FROM STDIN") as copy:
            while block := source.read(1 << 20):
                copy.write(block)
        cursor.execute("SELECT count(*) FROM smt_interval")
        return cursor.fetchone()[0]


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("--esiids", type=int, default=50)
    args.add_argument("--days", type=int, default=365)
    args.add_argument("--rounds", type=int, default=2, help="runs of each fast path; the best counts")
    args.add_argument("--skip-bulk-create", action="store_true", help="the slowest part; for profiling runs")
    args.add_argument(
        "--parallel-only",
        action="store_true",
        default=os.environ.get("SMT_BENCH_PARALLEL_ONLY") == "1",
        help="only the parse-split comparison",
    )
    args.add_argument("--split-rounds", type=int, default=3)
    opts = args.parse_args()
    media = tempfile.TemporaryDirectory(prefix="bench-media-")
    os.environ["MEDIA_ROOT"] = media.name
    django_setup()

    log(f"generating {opts.esiids} ESIIDs x {opts.days} days")
    raw = store_generated(opts.esiids, opts.days)
    try:
        if not opts.parallel_only:
            run(raw, opts)
        run_split(raw, opts)
    finally:
        empty_table()
        raw.delete()
        media.cleanup()


def run(raw, opts) -> None:
    """Each path `rounds` times, interleaved, keeping the best: the machine is shared and noisy."""
    from smt import normalize

    parse_s = ours_s = again_s = copy_s = float("inf")
    for round_ in range(1, opts.rounds + 1):
        empty_table()
        log(f"round {round_}: parse only")
        seconds, rows = timed(lambda: parse_only(raw))
        parse_s = min(parse_s, seconds)
        log(f"round {round_}: ours, raw_file_normalize ({rows} rows)")
        seconds, stats = timed(lambda: normalize.raw_file_normalize(raw_file=raw))
        assert stats["intervalsInserted"] == rows, stats
        ours_s = min(ours_s, seconds)
        log(f"round {round_}: re-ingest")
        seconds, again = timed(lambda: normalize.raw_file_normalize(raw_file=raw))
        assert again["intervalsInserted"] == 0 and again["duplicatesSkipped"] == rows, again
        again_s = min(again_s, seconds)
        with tempfile.TemporaryDirectory() as tmp:
            dump = Path(tmp) / "rows.copy"
            export_rows(dump)
            empty_table()
            log(f"round {round_}: raw COPY")
            seconds, copied = timed(lambda: raw_copy(dump))  # noqa: B023 (called at once)
            assert copied == rows
            copy_s = min(copy_s, seconds)
    bulk_s = None
    if not opts.skip_bulk_create:
        empty_table()
        log("bulk_create (once: it is the slowest by far)")
        bulk_s, created = timed(lambda: bulk_create(raw))
    size_mb = raw.size_bytes / 1e6
    print(
        f"### SMT ingest: {rows:,} intervals ({opts.esiids} ESIIDs x {opts.days} days, {size_mb:.0f} MB CSV), "
        f"best of {opts.rounds} interleaved rounds\n"
    )
    lines = [
        ["ours: parse + normalize (raw_file_normalize)", f"{ours_s:.1f}", f"{rows / ours_s:,.0f}", "1.00"],
        ["re-ingest, all duplicates", f"{again_s:.1f}", f"{rows / again_s:,.0f}", f"{ours_s / again_s:.2f}"],
        ["parse only (no database)", f"{parse_s:.1f}", f"{rows / parse_s:,.0f}", f"{ours_s / parse_s:.2f}"],
        ["raw COPY of normalized rows", f"{copy_s:.1f}", f"{rows / copy_s:,.0f}", f"{ours_s / copy_s:.2f}"],
    ]
    if bulk_s is not None:
        lines.append(
            [
                "parse + bulk_create(ignore_conflicts=True)",
                f"{bulk_s:.1f}",
                f"{rows / bulk_s:,.0f}",
                f"{ours_s / bulk_s:.2f}",
            ]
        )
    print(table(["path", "seconds", "rows/s", "speed vs ours"], lines))
    goals = [
        ["ours >= 0.5x raw COPY", f"{copy_s / ours_s:.2f}x", verdict(copy_s / ours_s >= 0.5)],
        ["re-ingest >= first ingest", f"{ours_s / again_s:.2f}x", verdict(again_s <= ours_s)],
    ]
    if bulk_s is not None:
        goals.insert(1, ["ours >= 3x bulk_create", f"{bulk_s / ours_s:.2f}x", verdict(bulk_s / ours_s >= 3)])
    print()
    print(table(["goal", "measured", "verdict"], goals))


def normalize_with(raw, *, parallel: bool) -> dict:
    from django.conf import settings

    from smt import normalize

    settings.SMT_PARSE_PARALLEL_MIN_BYTES = 1 if parallel else 1 << 62
    return normalize.raw_file_normalize(raw_file=raw)


def run_split(raw, opts) -> None:
    """Raw COPY, serial normalize, parallel normalize: single rounds, interleaved, each one kept."""
    import os as _os

    from django.conf import settings

    threshold = settings.SMT_PARSE_PARALLEL_MIN_BYTES
    empty_table()
    seconds, first = timed(lambda: normalize_with(raw, parallel=False))
    rows = first["intervalsInserted"]
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "rows.copy"
        export_rows(dump)
        lines = []
        for round_ in range(1, opts.split_rounds + 1):
            times = {}
            for name, step in (
                ("raw COPY", lambda: raw_copy(dump)),
                ("serial", lambda: normalize_with(raw, parallel=False)),
                ("parallel", lambda: normalize_with(raw, parallel=True)),
            ):
                empty_table()
                log(f"split round {round_}: {name}")
                times[name], result = timed(step)
                count = result if isinstance(result, int) else result["intervalsInserted"]
                assert count == rows, (name, result)
                if name != "raw COPY":  # the path each normalize really took
                    assert (result["parseWorkers"] > 1) == (name == "parallel"), (name, result["parseWorkers"])
            copy_s, serial_s, parallel_s = times["raw COPY"], times["serial"], times["parallel"]
            lines.append(
                [
                    str(round_),
                    f"{copy_s:.1f}",
                    f"{serial_s:.1f}",
                    f"{parallel_s:.1f}",
                    f"{copy_s / serial_s:.2f}x",
                    f"{copy_s / parallel_s:.2f}x",
                    verdict(copy_s / parallel_s >= 0.8),
                ]
            )
    settings.SMT_PARSE_PARALLEL_MIN_BYTES = threshold
    workers = settings.SMT_PARSE_WORKERS or _os.cpu_count()
    print(
        f"\n### Parse split across processes: {rows:,} intervals, {raw.size_bytes / 1e6:.0f} MB CSV, "
        f"{workers} parse workers, {_os.cpu_count()} CPUs, load average {_os.getloadavg()[0]:.1f} at the end\n"
    )
    print(
        table(
            [
                "round",
                "raw COPY s",
                "serial normalize s",
                "parallel normalize s",
                "serial vs COPY",
                "parallel vs COPY",
                "parallel >= 0.8x COPY",
            ],
            lines,
        )
    )


if __name__ == "__main__":
    main()
