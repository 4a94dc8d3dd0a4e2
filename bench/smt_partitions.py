"""Partitioned vs plain smt_interval, same rows, same run: ingest (INSERT ... SELECT with the
day-rollup and newest-interval triggers and the four indexes on both; and COPY, the
normalizer's direct path) and retention of the oldest month (DELETE on the plain table vs the
product's retention, `smt.partitions.intervals_prune`, which drops the month's smt_interval and
smt_interval_day partitions). BENCH_ROWS intervals (default 1,440,000: 166 ESIIDs x 90 days from 1 January 2025,
Central time), BENCH_ROUNDS interleaved ingest rounds (default 3; the order alternates, plain first
in odd rounds, so neither table always runs on the warmer machine), every round reported.
bench/smt_scale.py measures retention at 50 M rows."""

import os
from datetime import date

from _common import django_setup, smt_retention, table, timed, verdict

django_setup()

from django.db import connection  # noqa: E402 (after django_setup)

from smt import partitions  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "1440000"))
DAYS = 90
ESIIDS = max(1, ROWS // (DAYS * 96))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
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
    """A plain copy with the same indexes and every trigger the partitioned table has (the day
    rollup and the newest-interval triggers), copied from the catalog so a trigger added later
    is compared too."""
    run("DROP TABLE IF EXISTS bench_plain; CREATE TABLE bench_plain (LIKE smt_interval INCLUDING DEFAULTS)")
    run("ALTER TABLE bench_plain ADD PRIMARY KEY (id), ADD UNIQUE (esiid, meter, channel, ts)")
    run(
        "CREATE INDEX ON bench_plain (esiid, ts) INCLUDE (meter, channel, kwh, quality); CREATE INDEX ON bench_plain (raw_file_id)"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'smt_interval'::regclass"
            " AND NOT tgisinternal ORDER BY tgname"
        )
        triggers = cursor.fetchall()
    for name, definition in triggers:
        definition = definition.replace(f"CREATE TRIGGER {name} ", f"CREATE TRIGGER bench_plain_{name} ", 1)
        run(definition.replace(" ON public.smt_interval ", " ON bench_plain ", 1))
    assert len(triggers) >= 5, triggers  # the day rollup's five at least


def fresh(target: str) -> None:
    """The target and what the triggers feed emptied, and a CHECKPOINT: every timed insert starts
    from the same state (the other table's rollup rows would turn this one's inserts into updates),
    and neither pays the other's dirty buffers (max_wal_size is 1 GB by default, so a 1.4 M-row
    insert otherwise meets a checkpoint in some rounds only). The other table keeps its rows, so
    both are full for the retention measure after the last round."""
    run(f"TRUNCATE {target}")
    run("TRUNCATE smt_interval_day, smt_interval_newest")  # separately: the truncate triggers read them
    run("CHECKPOINT")


def generated_copy() -> bytes:
    """The same generated rows as COPY text, made once: the COPY measure times loading only."""
    data = bytearray()
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY ({GENERATE}) TO STDOUT") as copy:
        for chunk in copy:
            data += chunk
    return bytes(data)


def copy_into(target: str, data: bytes) -> None:
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {target} ({COLUMNS}) FROM STDIN") as copy:
        for start in range(0, len(data), 1 << 20):
            copy.write(data[start : start + (1 << 20)])


def ingest_round(n: int, data: bytes) -> dict[str, tuple[float, float]]:
    """One round of each way in: {way: (plain seconds, partitioned seconds)}, the order of the
    tables alternating by round, each load on an emptied table."""
    ways = {
        "INSERT ... SELECT": lambda target: run(f"INSERT INTO {target} ({COLUMNS}) {GENERATE}"),
        "COPY (the normalizer's direct path)": lambda target: copy_into(target, data),
    }
    result = {}
    for way, load in ways.items():
        seconds = {}
        for target in ("smt_interval", "bench_plain") if n % 2 else ("bench_plain", "smt_interval"):
            fresh(target)
            seconds[target], _ = timed(lambda: load(target))  # noqa: B023 (called at once)
        result[way] = (seconds["bench_plain"], seconds["smt_interval"])
    return result


def main() -> None:
    connection.ensure_connection()
    connection.connection.autocommit = True
    partitions.interval_partitions_ensure(
        start=partitions.LAYOUT.bound(date(2025, 1, 1)), end=partitions.LAYOUT.bound(date(2025, 4, 1))
    )
    plain_table()
    rows = ESIIDS * DAYS * 96
    data = generated_copy()
    rounds = [ingest_round(n, data) for n in range(ROUNDS)]
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
    totals = {}
    for n, by_way in enumerate(rounds, 1):
        first = "partitioned" if n % 2 == 0 else "plain"
        for way, (plain_s, part_s) in by_way.items():
            print(
                f"| {way}, round {n} ({first} first) | {plain_s:.2f} | {part_s:.2f} | {plain_s / part_s:.2f}x speed |"
            )
            total = totals.setdefault(way, [0.0, 0.0])
            total[0], total[1] = total[0] + plain_s, total[1] + part_s
    for way, (plain_total, part_total) in totals.items():
        print(
            f"| {way}, all {ROUNDS} rounds | {plain_total:.2f} | {part_total:.2f} | {plain_total / part_total:.2f}x speed |"
        )
    print(
        f"| retention of the oldest month | {delete_s:.3f} (DELETE) | {drop_s:.3f} (drop) | {delete_s / drop_s:.0f}x faster |"
    )
    print()
    goals = [
        [f"{way}: partitioned >= 0.9x plain, all rounds", f"{plain / part:.2f}x", verdict(plain / part >= 0.9)]
        for way, (plain, part) in totals.items()
    ]
    print(table(["goal", "measured", "verdict"], goals))
    run("DROP TABLE bench_plain; TRUNCATE smt_interval")


if __name__ == "__main__":
    main()
