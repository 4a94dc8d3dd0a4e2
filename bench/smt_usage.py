"""SMT usage questions over 10 M stored intervals (285 ESIID-years) on PostgreSQL.

Rows are generated in SQL (the ingest path has its own bench), month by month for every ESIID,
so an ESIID's year lies in 12 runs as monthly files would leave it; one day in 29 misses an hour.
Measured beside a naive baseline in the same run:
  daily summary   smt.usage.daily_summary for one ESIID-year   vs  Python-side grouping of its rows
  intervals page  GET /smt/intervals/ for one ESIID-month      vs  the month's rows paged in Python
  summary page    wrk, 20 connections, against gunicorn        vs  wrk on /health, same server;
                  once on one ESIID-year (cached after the first view), once on a random ESIID per request
Goals: summary median < 20 ms, intervals page median < 50 ms, summary page p99 < 200 ms.

    .venv/bin/python bench/smt_usage.py [--esiids 285] [--runs 15] [--wrk-seconds 15]
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import django_setup, log, median_ms, table, verdict  # noqa: E402
from smt_upload import free_port, start_gunicorn  # noqa: E402

YEAR = 2024
METER = "BENCH"


def esiid(n: int) -> str:
    return f"10443721{n:09d}"


def load(esiids: int) -> int:
    """A year of intervals for each ESIID, inserted a local month at a time."""
    from django.db import connection

    from smt.usage import local_midnight

    with connection.cursor() as cursor:
        for month in range(1, 13):
            first = date(YEAR, month, 1)
            after = date(YEAR + (month == 12), month % 12 + 1, 1)
            log(f"  month {month}: {esiids} ESIIDs")
            cursor.execute(
                """
                INSERT INTO smt_interval (esiid, meter, channel, ts, kwh, quality, revised_at, raw_file_id, row_number)
                SELECT '10443721' || lpad(e::text, 9, '0'), %s, 'consumption', t,
                       round((0.05 + random() * 1.2)::numeric, 3),
                       CASE WHEN random() < 0.01 THEN 'estimated' ELSE 'actual' END, NULL, NULL, 0
                FROM generate_series(1, %s) AS e,
                     generate_series(%s::timestamptz, %s::timestamptz - interval '15 minutes', interval '15 minutes') AS t
                WHERE NOT ((e * 31 + extract(epoch FROM t)::bigint / 86400) %% 29 = 0 AND extract(hour FROM t AT TIME ZONE 'UTC') = 9)
                ORDER BY e, t
                """,
                [METER, esiids, local_midnight(first), local_midnight(after)],
            )
        # As autovacuum would after a bulk load: sets the visibility map, so the covering (esiid, ts)
        # index gives index-only scans (a never-vacuumed table sends every row back to the heap).
        cursor.execute("VACUUM (ANALYZE) smt_interval")
        cursor.execute("SELECT count(*) FROM smt_interval")
        return cursor.fetchone()[0]


def naive_summary(target: str, start: date, end: date) -> list[dict]:
    """The baseline: every row of the range into Python, grouped by local day there."""
    from config.texas import CENTRAL
    from smt.models import SmtInterval
    from smt.usage import STEP, day_bounds, expected_intervals

    begin, finish = day_bounds(start, end)
    days: dict = {}
    rows = SmtInterval.objects.filter(esiid=target, ts__gte=begin, ts__lt=finish).values_list(
        "ts", "channel", "kwh", "quality"
    )
    for ts, channel, kwh, quality in rows:
        day = days.setdefault(
            ts.astimezone(CENTRAL).date(), {"found": set(), "kwh": Decimal(0), "gen": Decimal(0), "est": 0}
        )
        if channel == "consumption":
            day["found"].add(ts)
            day["kwh"] += kwh
            day["est"] += quality == "estimated"
        else:
            day["gen"] += kwh
    result = []
    for n in range((end - start).days + 1):
        day = start + timedelta(days=n)
        entry = days.get(day, {"found": set(), "kwh": Decimal(0), "gen": Decimal(0), "est": 0})
        lo, hi = day_bounds(day, day)
        slots = [lo + STEP * i for i in range(int((hi - lo) / STEP))]
        missing = [slot for slot in slots if slot not in entry["found"]]
        result.append(
            {
                "date": day,
                "expected": expected_intervals(day),
                "found": len(entry["found"]),
                "kwh": float(entry["kwh"]),
                "missing": missing,
            }
        )
    return result


def naive_page(target: str, first: date, last: date, page: int) -> list:
    """The baseline: the whole ESIID-month as model instances, sorted and sliced in Python."""
    from smt.models import SmtInterval
    from smt.usage import day_bounds

    begin, finish = day_bounds(first, last)
    rows = sorted(
        SmtInterval.objects.filter(esiid=target, ts__gte=begin, ts__lt=finish), key=lambda r: (r.ts, r.channel)
    )
    return rows[(page - 1) * 100 : page * 100]


def staff_client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.create_user("bench-staff", password="bench-pass-123", is_staff=True)
    client = Client()
    client.force_login(user)
    return client


def page_ms(client, url: str, runs: int) -> float:
    def get() -> None:
        response = client.get(url)
        assert response.status_code == 200, response.status_code

    return median_ms(get, runs)


RANDOM_ESIID_LUA = """
request = function()
  local path = string.format("/smt/usage/?esiid=10443721%%09d&start=%d-01-01&end=%d-12-31", math.random(1, %d))
  return wrk.format("GET", path)
end
"""


def wrk(url: str, cookie: str, seconds: int, script: str | None = None) -> dict:
    extra = ["-s", script] if script else []
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            "-c20",
            f"-d{seconds}s",
            "--latency",
            "--timeout",
            "10s",
            "-H",
            f"Cookie: {cookie}",
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def latency(label: str) -> float:
        value, unit = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "p50": latency("50"),
        "p99": latency("99"),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
        "errors": int(non_2xx[1]) if non_2xx else 0,
    }


def wrk_runs(client, summary_url: str, seconds: int, esiids: int) -> tuple[dict, dict, dict]:
    import tempfile

    cookie = f"sessionid={client.cookies['sessionid'].value}"
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-usage-") as tmp:
        script = Path(tmp) / "random-esiid.lua"
        script.write_text(RANDOM_ESIID_LUA % (YEAR, YEAR, esiids))
        os.environ["GUNICORN_WORKERS"] = "2"
        server = start_gunicorn("config.wsgi:application", port, tmp)
        try:
            base = f"http://127.0.0.1:{port}"
            wrk(f"{base}{summary_url}", cookie, 2)  # warm-up: connections, imports, this page's cache
            page = wrk(f"{base}{summary_url}", cookie, seconds)
            cold = wrk(base, cookie, seconds, script=str(script))
            health = wrk(f"{base}/health", cookie, seconds)
        finally:
            server.terminate()
            server.wait(30)
    return page, cold, health


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("--esiids", type=int, default=285)
    args.add_argument("--runs", type=int, default=15)
    args.add_argument("--wrk-seconds", type=int, default=15)
    opts = args.parse_args()
    django_setup()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (bin/bench.sh installs it)")
    from django.contrib.auth import get_user_model
    from django.db import connection

    from smt import usage

    log(f"loading {opts.esiids} ESIID-years")
    try:
        rows = load(opts.esiids)
        run(opts, rows, usage)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE smt_interval")
        get_user_model().objects.filter(username="bench-staff").delete()


def run(opts, rows: int, usage) -> None:
    from django.test import override_settings

    target = esiid(opts.esiids // 2 + 1)
    start, end = date(YEAR, 1, 1), date(YEAR, 12, 31)
    ours = usage.daily_summary(esiid=target, start=start, end=end)
    naive = naive_summary(target, start, end)
    assert [d.found for d in ours] == [d["found"] for d in naive] and sum(d.found for d in ours) > 30_000
    log("daily summary")
    summary_ours = median_ms(lambda: usage.daily_summary(esiid=target, start=start, end=end), opts.runs)
    summary_naive = median_ms(lambda: naive_summary(target, start, end), max(3, opts.runs // 3))
    client = staff_client()
    month = f"/smt/intervals/?esiid={target}&local_from={YEAR}-06-01&local_to={YEAR}-06-30"
    log("intervals page")
    page_first = page_ms(client, month, opts.runs)
    page_last = page_ms(client, month + "&page=29", opts.runs)
    page_naive = median_ms(lambda: naive_page(target, date(YEAR, 6, 1), date(YEAR, 6, 30), 29), opts.runs)
    summary_url = f"/smt/usage/?esiid={target}&start={start}&end={end}"
    with override_settings(SMT_USAGE_CACHE_SECONDS=0):
        page_summary_cold = page_ms(client, summary_url, opts.runs)
    page_summary = page_ms(client, summary_url, opts.runs)
    log("wrk")
    page, cold, health = wrk_runs(client, summary_url, opts.wrk_seconds, opts.esiids)
    print(f"### SMT usage: {rows:,} intervals ({opts.esiids} ESIID-years) in PostgreSQL\n")
    print(
        table(
            ["measure", "ours (median ms)", "naive baseline (median ms)", "baseline"],
            [
                [
                    "daily summary, one ESIID-year (366 days)",
                    f"{summary_ours:.1f}",
                    f"{summary_naive:.1f}",
                    "all rows into Python, grouped by local day there",
                ],
                [
                    "intervals page, one ESIID-month, page 1",
                    f"{page_first:.1f}",
                    "",
                    "(full page: query + render, in-process)",
                ],
                [
                    "intervals page, one ESIID-month, page 29",
                    f"{page_last:.1f}",
                    f"{page_naive:.1f}",
                    "the month's rows sorted and sliced in Python (no render)",
                ],
                [
                    "summary page, one ESIID-year, cache off (in-process)",
                    f"{page_summary_cold:.1f}",
                    "",
                    "(daily summary, heatmap, bars, day table)",
                ],
                [
                    "summary page, one ESIID-year, cached (in-process)",
                    f"{page_summary:.1f}",
                    "",
                    "(repeat view; the cache key moves with new data)",
                ],
            ],
        )
    )
    print()
    print(
        table(
            ["wrk -c20 (gunicorn 2 workers x 4 threads)", "p50 ms", "p99 ms", "req/s", "non-2xx"],
            [
                [
                    "summary page, one ESIID-year (cached after the first view)",
                    f"{page['p50']:.1f}",
                    f"{page['p99']:.1f}",
                    f"{page['rps']:.0f}",
                    page["errors"],
                ],
                [
                    f"summary page, a random ESIID of {opts.esiids} per request (mostly misses)",
                    f"{cold['p50']:.1f}",
                    f"{cold['p99']:.1f}",
                    f"{cold['rps']:.0f}",
                    cold["errors"],
                ],
                [
                    "baseline: /health (no database)",
                    f"{health['p50']:.1f}",
                    f"{health['p99']:.1f}",
                    f"{health['rps']:.0f}",
                    health["errors"],
                ],
            ],
        )
    )
    print()
    print(
        table(
            ["goal", "measured", "verdict"],
            [
                ["daily summary median < 20 ms", f"{summary_ours:.1f} ms", verdict(summary_ours < 20)],
                [
                    "intervals page median < 50 ms",
                    f"{max(page_first, page_last):.1f} ms",
                    verdict(max(page_first, page_last) < 50),
                ],
                [
                    "summary page p99 < 200 ms (wrk -c20, one ESIID-year)",
                    f"{page['p99']:.1f} ms",
                    verdict(page["p99"] < 200 and not page["errors"]),
                ],
                [
                    "the same with a random ESIID per request",
                    f"{cold['p99']:.1f} ms",
                    verdict(cold["p99"] < 200 and not cold["errors"]),
                ],
            ],
        )
    )


if __name__ == "__main__":
    main()
