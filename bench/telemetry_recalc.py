"""Recalculation benchmark: one year x 100 devices of hourly ledger entries, then price changes.

    .venv/bin/python bench/telemetry_recalc.py [--devices 100] [--days 365]

Entries are generated in SQL (the ingest path has its own benchmark); daily totals are built
by the exact rebuild, first entry by entry in Python (the SQLite path, as a baseline), then in
SQL (the PostgreSQL path), which must store the same rows. Prints a markdown table of the
timings. DATABASE_URL defaults to the throwaway PostgreSQL database wattledger_bench_telemetry.
"""

import argparse
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from telemetry_ingest import database_prepare  # noqa: E402


def entries_generate(devices: int, days: int, start: datetime) -> int:
    from django.db import connection

    from telemetry.models import Device

    Device.objects.bulk_create([Device(name=f"recalc-{n:03d}") for n in range(devices)])
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO telemetry_ledgerentry (device_id, start_ts, end_ts, start_wh, end_wh, delta_wh, kind, confidence,
                   reason, created_at, superseded_reason)
               SELECT d.id, %s + h * interval '1 hour', %s + (h + 1) * interval '1 hour',
                      h * 150 + (d.id %% 7), (h + 1) * 150 + (d.id %% 7), 150, 'normal', 'high', '', now(), ''
               FROM telemetry_device d CROSS JOIN generate_series(0, %s - 1) AS h""",
            [start, start, days * 24],
        )
        return cursor.rowcount


def rebuild(first: date, last: date, in_sql: bool) -> None:
    from django.db import transaction

    from telemetry import totals

    with transaction.atomic():
        totals.totals_rebuild(first=first, last=last, in_sql=in_sql)


def totals_table() -> list:
    from telemetry.models import DailyTotal

    return list(DailyTotal.objects.order_by("device_id", "day").values_list("device_id", "day", "wh", "cost"))


def timed(label: str, rows: list, fn):
    began = time.perf_counter()
    result = fn()
    rows.append((label, time.perf_counter() - began))
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    opts = parser.parse_args()
    database_prepare()
    from telemetry import totals
    from telemetry.models import DailyTotal

    first = date(2025, 1, 1)
    last = first + timedelta(days=opts.days - 1)
    start = totals.day_bounds(first)[0]
    rows: list = []
    count = timed("generate entries (SQL)", rows, lambda: entries_generate(opts.devices, opts.days, start))
    grid = f"{opts.days} days x {opts.devices} devices"
    timed(f"rebuild all daily totals, Python path (baseline, {grid})", rows, lambda: rebuild(first, last, in_sql=False))
    python_rows = totals_table()
    timed(f"rebuild all daily totals, SQL path ({grid})", rows, lambda: rebuild(first, last, in_sql=True))
    if totals_table() != python_rows:
        sys.exit("error: the SQL rebuild stored other rows than the Python one")
    timed(
        "POST /api/power-analytics/recalculate work over the year (SQL, with the before/after sums)",
        rows,
        lambda: totals.range_recalculate(first=first, last=last),
    )
    totals.cost_version_create(cost_per_kwh=Decimal("0.10"), effective_from=datetime(2024, 1, 1, tzinfo=UTC))
    version = timed(
        "price change on 1 January 10:30 local: the whole year recalculated",
        rows,
        lambda: totals.cost_version_create(
            cost_per_kwh=Decimal("0.12"), effective_from=totals.day_bounds(first)[0] + timedelta(hours=10, minutes=30)
        ),
    )
    mid = timed(
        "price change on 1 July: half a year, up to the next version",
        rows,
        lambda: totals.cost_version_create(
            cost_per_kwh=Decimal("0.15"), effective_from=totals.day_bounds(date(2025, 7, 1))[0]
        ),
    )
    print(
        f"\n{count:,} hourly ledger entries, {DailyTotal.objects.count():,} device-days, TELEMETRY_TIME_ZONE "
        f"{totals.local_zone().key}\n"
    )
    print("| step | seconds |")
    print("|---|---:|")
    for label, seconds in rows:
        print(f"| {label} | {seconds:.2f} |")
    print(
        f"\ndays changed: {len(version.recalculation['days_changed'])} (whole year), "
        f"{len(mid.recalculation['days_changed'])} (from 1 July)"
    )


if __name__ == "__main__":
    main()
