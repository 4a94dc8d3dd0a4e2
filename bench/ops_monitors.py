"""monitors_check at scale: BENCH_ESIIDS ESIIDs (default 100,000) with a year of days each in the
SMT day rollup (36.5 M rows, generated in SQL) and each one's newest interval in
smt_interval_newest, BENCH_DEVICES telemetry devices (default 10,000).

Times the set-based check (the first run creates every monitor; the second is the steady state a
one-minute schedule sees), beside a per-object loop that asks the same question one ESIID and one
device at a time, in the same run on the same rows."""

import os
from datetime import timedelta

from _common import django_setup, timed

django_setup()

from django.conf import settings
from django.db import connection
from django.utils import timezone

from ops.models import Monitor
from ops.monitors import monitors_check

ESIIDS = int(os.environ.get("BENCH_ESIIDS", "100000"))
DEVICES = int(os.environ.get("BENCH_DEVICES", "10000"))
DAYS = 365
KINDS = [Monitor.Kind.SMT_DATA, Monitor.Kind.DEVICE]


def run(sql: str, params: list | None = None) -> list:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall() if cursor.description else []


def load() -> None:
    # A year of days ending yesterday; one ESIID in ten stopped a week ago (late/down monitors).
    run(f"""
        INSERT INTO smt_interval_day (esiid, meter, channel, day, found, kwh, estimated)
        SELECT '1044372' || lpad(e::text, 10, '0'), 'M1', 'consumption', d, 96, 24.0, 0
        FROM generate_series(1, {ESIIDS}) e,
             LATERAL generate_series(current_date - {DAYS}, current_date - CASE WHEN e %% 10 = 0 THEN 7 ELSE 1 END, interval '1 day') d
    """)
    # What migration 0013's triggers keep when the intervals themselves arrive: each ESIID's newest
    # interval (its newest day's last quarter hour; the rollup above is loaded without intervals).
    run("""
        INSERT INTO smt_interval_newest (esiid, ts)
        SELECT esiid, (max(day) + 1)::timestamp AT TIME ZONE 'America/Chicago' - interval '15 minutes'
        FROM smt_interval_day GROUP BY esiid
    """)
    run(f"""
        INSERT INTO telemetry_device (name, status, token_sha256, duplicates, time_zone, counter_unit, created_at, last_seen_at)
        SELECT 'bench-' || n, 'unknown', '', 0, '', 'Wh', now() - interval '30 days',
               now() - CASE WHEN n %% 20 = 0 THEN interval '3 hours' ELSE interval '1 minute' END
        FROM generate_series(1, {DEVICES}) n
    """)
    run("VACUUM ANALYZE smt_interval_day")
    run("VACUUM ANALYZE smt_interval_newest")
    run("VACUUM ANALYZE telemetry_device")


def per_object_loop() -> int:
    """The obvious code: one query per ESIID for its newest day, one state per device."""
    now = timezone.now()
    late = timedelta(hours=settings.SMT_LATE_HOURS)
    not_up = 0
    esiids = [row[0] for row in run("SELECT DISTINCT esiid FROM smt_interval_day")]
    for esiid in esiids:
        [(newest,)] = run("SELECT max(day) FROM smt_interval_day WHERE esiid = %s", [esiid])
        not_up += now.date() - newest > late
    from telemetry.models import Device

    for device in Device.objects.only("last_seen_at", "created_at").iterator(chunk_size=2000):
        not_up += now - (device.last_seen_at or device.created_at) > timedelta(
            minutes=settings.TELEMETRY_SILENT_MINUTES
        )
    return not_up


def main() -> None:
    load_seconds, _ = timed(load)
    rows = run("SELECT count(*) FROM smt_interval_day")[0][0]
    first, result = timed(lambda: monitors_check(kinds=KINDS))
    # The median of three: one round on a shared machine says more about the neighbours than the code.
    rounds = sorted(timed(lambda: monitors_check(kinds=KINDS))[0] for _ in range(3))
    steady = rounds[1]
    loop, not_up = timed(per_object_loop)
    monitors = Monitor.objects.count()
    problems = Monitor.objects.exclude(state=Monitor.State.UP).count()
    print(
        f"{ESIIDS:,} ESIIDs x {DAYS} days ({rows:,} rollup rows, loaded in {load_seconds:.0f} s), {DEVICES:,} devices\n"
    )
    print("| what | seconds | monitors | not up |")
    print("|---|---:|---:|---:|")
    print(
        f"| monitors_check, first run (creates the monitors, records {len(result.changed):,} changes) | {first:.2f} | {monitors:,} | {problems:,} |"
    )
    print(
        f"| monitors_check, steady state (the one-minute schedule; median of {', '.join(f'{r:.2f}' for r in rounds)}) "
        f"| {steady:.2f} | {monitors:,} | {problems:,} |"
    )
    print(f"| per-object loop (a query per ESIID, a row per device) | {loop:.2f} | | {not_up:,} |")
    print("\nper kind, first run: " + ", ".join(f"{kind} {seconds:.2f} s" for kind, seconds in result.seconds.items()))


if __name__ == "__main__":
    main()
