"""The partitioned smt_interval at 10 M and 50 M intervals (issue 12): the daily summary for one
ESIID-year and the intervals page for one ESIID-month, measured on the same ESIID at both sizes
(goal: 50 M within 1.5x of 10 M); then retention of the oldest month at 50 M, the partition drop
against a DELETE of the same rows in the same table.

Rows come from SQL (INSERT ... SELECT generate_series, through the day-rollup triggers), a local
month at a time for every ESIID, year 2024, one day in 29 missing an hour as in smt_usage.py.
The 50 M step adds ESIIDs to the same year, so the measured ESIID's rows do not change: only
the table around them grows. The DELETE runs in a transaction that is then rolled back (it pays
its whole cost: every row's xmax and the triggers' day-total updates), so the drop then removes
exactly the rows the DELETE removed. The drop is the product's retention
(`smt.partitions.intervals_prune`, cutoff 1 February): January's smt_interval and
smt_interval_day partitions dropped whole, the newest intervals read again.

    BENCH_SCALE_STEPS=10000000,50000000 bin/bench.sh bench/smt_scale.py
"""

import os
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import django_setup, log, median_ms, smt_retention, table, timed, verdict  # noqa: E402

django_setup()

from django.db import connection, transaction  # noqa: E402
from smt_usage import staff_client  # noqa: E402

from smt import partitions, usage  # noqa: E402
from smt.usage import local_midnight  # noqa: E402

YEAR = 2024
PER_ESIID_YEAR = 35_136 - 12  # 366 days x 96, less the missing hours (about one day in 29)
STEPS = [int(n) for n in os.environ.get("BENCH_SCALE_STEPS", "10000000,50000000").split(",")]
RUNS = int(os.environ.get("BENCH_RUNS", "15"))
TARGET = (
    STEPS[0] // PER_ESIID_YEAR // 2 + 1
)  # the measured ESIID: loaded in the first step, untouched by the later ones


def esiid(n: int) -> str:
    return f"10443721{n:09d}"


def load(first: int, last: int) -> float:
    """ESIIDs first..last for all of YEAR, a local month per statement; returns seconds."""
    start = time.perf_counter()
    with connection.cursor() as cursor:
        for month in range(1, 13):
            begin, after = date(YEAR, month, 1), date(YEAR + (month == 12), month % 12 + 1, 1)
            cursor.execute(
                """
                INSERT INTO smt_interval (esiid, meter, channel, ts, kwh, quality, revised_at, raw_file_id, row_number)
                SELECT '10443721' || lpad(e::text, 9, '0'), 'BENCH', 'consumption', t,
                       round((0.05 + random() * 1.2)::numeric, 3),
                       CASE WHEN random() < 0.01 THEN 'estimated' ELSE 'actual' END, NULL, NULL, 0
                FROM generate_series(%s::int, %s::int) AS e,
                     generate_series(%s::timestamptz, %s::timestamptz - interval '15 minutes', interval '15 minutes') AS t
                WHERE NOT ((e * 31 + extract(epoch FROM t)::bigint / 86400) %% 29 = 0 AND extract(hour FROM t AT TIME ZONE 'UTC') = 9)
                ORDER BY e, t
                """,
                [first, last, local_midnight(begin), local_midnight(after)],
            )
            log(f"  ESIIDs {first}-{last}, month {month}: {time.perf_counter() - start:.0f} s")
        # As autovacuum would after a bulk load: the visibility map gives index-only scans.
        cursor.execute("VACUUM (ANALYZE) smt_interval")
        cursor.execute("VACUUM (ANALYZE) smt_interval_day")
    return time.perf_counter() - start


def count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM smt_interval")
        return cursor.fetchone()[0]


def measure(client) -> dict:
    target = esiid(TARGET)
    start, end = date(YEAR, 1, 1), date(YEAR, 12, 31)
    days = usage.daily_summary(esiid=target, start=start, end=end)
    assert sum(d.found for d in days) > 30_000, "the measured ESIID-year is not loaded"
    month = f"/smt/intervals/?esiid={target}&local_from={YEAR}-06-01&local_to={YEAR}-06-30"

    def page(url: str):
        def get() -> None:
            response = client.get(url)
            assert response.status_code == 200, response.status_code

        return get

    return {
        "summary": median_ms(lambda: usage.daily_summary(esiid=target, start=start, end=end), RUNS),
        "page 1": median_ms(page(month), RUNS),
        "page 29": median_ms(page(month + "&page=29"), RUNS),
    }


def retention() -> dict:
    """January at the full size: DELETE (rolled back) vs the product's retention dropping it."""
    cutoff = local_midnight(date(YEAR, 2, 1))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM smt_interval_y2024m01")
        rows = cursor.fetchone()[0]

        def delete() -> None:
            with transaction.atomic():
                cursor.execute("DELETE FROM smt_interval WHERE ts < %s", [cutoff])
                assert cursor.rowcount == rows, (cursor.rowcount, rows)
                transaction.set_rollback(True)

        delete_s, _ = timed(delete)
        cursor.execute(
            "SELECT pg_total_relation_size('smt_interval_y2024m01') + pg_total_relation_size('smt_interval_day_y2024m01')"
        )
        dropped_bytes = cursor.fetchone()[0]
        drop_s, pruned = timed(lambda: smt_retention(first_kept=date(YEAR, 2, 1)))
        assert pruned["partitionsDropped"] == ["smt_interval_y2024m01"], pruned
        assert pruned["dayPartitionsDropped"] == ["smt_interval_day_y2024m01"], pruned
        cursor.execute("SELECT count(*) FROM smt_interval WHERE ts < %s", [cutoff])
        assert cursor.fetchone()[0] == 0
    # The product times its two parts: the transaction (detach and settle, the tables locked) and
    # removing the retired months' files after the commit (the filesystem's work, nothing locked).
    return {"rows": rows, "delete": delete_s, "drop": drop_s, "bytes": dropped_bytes, **pruned["seconds"]}


def data_filesystem() -> str:
    """The filesystem under PostgreSQL's data directory and its mount options (when the server is
    on this host): file removal at COMMIT depends on them (`discard` trims every freed block)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW data_directory")
        directory = cursor.fetchone()[0]
    try:
        mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return "unknown"
    best = max(
        (m for m in mounts if directory.startswith(m[1].rstrip("/") + "/") or directory == m[1]),
        key=lambda m: len(m[1]),
        default=None,
    )
    return f"{best[2]} ({best[3]})" if best else "unknown"


def main() -> None:
    partitions.interval_partitions_ensure(
        start=partitions.LAYOUT.bound(date(YEAR, 1, 1)), end=partitions.LAYOUT.bound(date(YEAR, 12, 1))
    )
    client = staff_client()
    results, loaded = [], 0
    try:
        for step in STEPS:
            last = step // PER_ESIID_YEAR
            log(f"loading ESIIDs {loaded + 1}-{last}")
            seconds = load(loaded + 1, last)
            rows_added = (last - loaded) * PER_ESIID_YEAR
            loaded = last
            total = count()
            log(f"{total:,} rows; measuring")
            results.append((total, seconds, rows_added, measure(client)))
        report(results, retention())
    finally:
        from django.contrib.auth import get_user_model

        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE smt_interval")  # its trigger empties smt_interval_day
        get_user_model().objects.filter(username="bench-staff").delete()


def report(results: list, kept: dict) -> None:
    rows, delete_s, drop_s = kept["rows"], kept["delete"], kept["drop"]
    print(f"### Partitioned smt_interval at {', '.join(f'{r[0]:,}' for r in results)} intervals\n")
    print(
        table(
            [
                "intervals",
                "load (s)",
                "load rows/s",
                "daily summary, one ESIID-year (median ms)",
                "intervals page 1, one ESIID-month (median ms)",
                "intervals page 29 (median ms)",
            ],
            [
                [
                    f"{total:,}",
                    f"{seconds:.0f}",
                    f"{added / seconds:,.0f}",
                    f"{m['summary']:.1f}",
                    f"{m['page 1']:.1f}",
                    f"{m['page 29']:.1f}",
                ]
                for total, seconds, added, m in results
            ],
        )
    )
    print()
    print(
        table(
            ["retention of January (one partition)", "rows", "seconds"],
            [
                ["DELETE of its rows (rolled back after)", f"{rows:,}", f"{delete_s:.2f}"],
                ["intervals_prune: its interval and day partitions dropped", f"{rows:,}", f"{drop_s:.3f}"],
                ["  of which its transaction (detach, settle; the tables locked)", "", f"{kept['transaction']:.3f}"],
                [
                    f"  of which removing {kept['bytes'] / 2**20:,.0f} MiB of files after it (nothing locked)",
                    "",
                    f"{kept['filesRemoved']:.3f}",
                ],
            ],
        )
    )
    print(f"\nData directory's filesystem: {data_filesystem()}")
    print()
    small, large = results[0][3], results[-1][3]
    goals = [
        [
            f"{name}: {results[-1][0]:,} within 1.5x of {results[0][0]:,}",
            f"{large[name] / small[name]:.2f}x",
            verdict(large[name] <= 1.5 * small[name]),
        ]
        for name in ("summary", "page 1", "page 29")
    ]
    goals.append(["partition drop >= 100x DELETE", f"{delete_s / drop_s:.0f}x", verdict(delete_s >= 100 * drop_s)])
    goals.append(
        [
            "(beside it) the tables locked >= 100x shorter than the DELETE",
            f"{delete_s / kept['transaction']:.0f}x",
            verdict(delete_s >= 100 * kept["transaction"]),
        ]
    )
    print(table(["goal", "measured", "verdict"], goals))


if __name__ == "__main__":
    main()
