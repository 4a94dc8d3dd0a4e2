"""Partitioned vs plain smt_interval, same rows, same run: ingest (INSERT ... SELECT with the
day-rollup triggers and the four indexes on both) and retention of the oldest month (DELETE on
the plain table vs the product's retention, `smt.partitions.intervals_prune`, which drops the
month's smt_interval and smt_interval_day partitions). BENCH_ROWS intervals (default 1,440,000: 166 ESIIDs x 90 days from 1 January 2025,
Central time), BENCH_ROUNDS interleaved ingest rounds (default 3; the order alternates, plain first
in odd rounds, so neither table always runs on the warmer machine), every round reported.
bench/smt_scale.py measures retention at 50 M rows."""

import importlib
import os
from datetime import date

from _common import django_setup, smt_retention, timed

django_setup()

from django.db import connection  # noqa: E402 (after django_setup)

from smt import partitions  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "1440000"))
DAYS = 90
ESIIDS = max(1, ROWS // (DAYS * 96))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
TRIGGERS = importlib.import_module("smt.migrations.0011_interval_partitions").TRIGGERS
GENERATE = f"""
    SELECT '1044372' || lpad(e::text, 10, '0'), 'M1', 'consumption',
           timestamptz '2025-01-01 00:00 America/Chicago' + g * interval '15 min', (random() * 2)::numeric(12, 3), 'actual', g
    FROM generate_series(1, {ESIIDS}) e, generate_series(0, {DAYS * 96 - 1}) g
"""
COLUMNS = "esiid, meter, channel, ts, kwh, quality, row_number"


def run(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)


def plain_table() -> None:
    run("DROP TABLE IF EXISTS bench_plain; CREATE TABLE bench_plain (LIKE smt_interval INCLUDING DEFAULTS)")
    run("ALTER TABLE bench_plain ADD PRIMARY KEY (id), ADD UNIQUE (esiid, meter, channel, ts)")
    run(
        "CREATE INDEX ON bench_plain (esiid, ts) INCLUDE (meter, channel, kwh, quality); CREATE INDEX ON bench_plain (raw_file_id)"
    )
    run(
        TRIGGERS.replace(" ON smt_interval", " ON bench_plain").replace("TRIGGER smt_interval_", "TRIGGER bench_plain_")
    )


def ingest_round(n: int) -> tuple[float, float]:
    """One round on emptied tables: (plain seconds, partitioned seconds), the order alternating."""
    run("TRUNCATE bench_plain, smt_interval")  # the triggers empty smt_interval_day as well
    seconds = {}
    for target in ("smt_interval", "bench_plain") if n % 2 else ("bench_plain", "smt_interval"):
        seconds[target], _ = timed(lambda: run(f"INSERT INTO {target} ({COLUMNS}) {GENERATE}"))  # noqa: B023 (called at once)
    return seconds["bench_plain"], seconds["smt_interval"]


def main() -> None:
    connection.ensure_connection()
    connection.connection.autocommit = True
    partitions.interval_partitions_ensure(
        start=partitions.LAYOUT.bound(date(2025, 1, 1)), end=partitions.LAYOUT.bound(date(2025, 4, 1))
    )
    plain_table()
    rows = ESIIDS * DAYS * 96
    rounds = [ingest_round(n) for n in range(ROUNDS)]
    run("VACUUM ANALYZE bench_plain")
    run("VACUUM ANALYZE smt_interval")
    delete_s, _ = timed(
        lambda: run("DELETE FROM bench_plain WHERE ts < timestamptz '2025-02-01 00:00 America/Chicago'")
    )
    drop_s, pruned = timed(lambda: smt_retention(first_kept=date(2025, 2, 1)))
    assert pruned["partitionsDropped"] == ["smt_interval_y2025m01"], pruned
    assert pruned["dayPartitionsDropped"] == ["smt_interval_day_y2025m01"], pruned
    print(f"{rows:,} intervals ({ESIIDS} ESIIDs x {DAYS} days), January 2025 = {ESIIDS * 31 * 96:,} rows\n")
    print("| measure | plain table (s) | partitioned (s) | partitioned vs plain |\n|---|---|---|---|")
    for n, (plain_s, part_s) in enumerate(rounds, 1):
        first = "partitioned" if n % 2 == 0 else "plain"
        print(
            f"| ingest round {n} ({first} first), INSERT ... SELECT with triggers | {plain_s:.2f} | {part_s:.2f} | {plain_s / part_s:.2f}x speed |"
        )
    plain_total, part_total = sum(r[0] for r in rounds), sum(r[1] for r in rounds)
    print(
        f"| ingest, all {ROUNDS} rounds | {plain_total:.2f} | {part_total:.2f} | {plain_total / part_total:.2f}x speed |"
    )
    print(
        f"| retention of the oldest month | {delete_s:.3f} (DELETE) | {drop_s:.3f} (drop) | {delete_s / drop_s:.0f}x faster |"
    )
    run("DROP TABLE bench_plain; TRUNCATE smt_interval")


if __name__ == "__main__":
    main()
