import hashlib
import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest

from smt import normalize, storage, usage
from smt.models import IntervalDeletion, SmtInterval
from tests.conftest import SMT_SAMPLES

pytestmark = pytest.mark.django_db
TOKEN = {"HTTP_X_ADMIN_TOKEN": "test-admin-token"}
UTC = UTC


def load(name: str, meter: str = "M1"):
    data = (SMT_SAMPLES / name).read_bytes()
    raw = storage.raw_file_store(
        fileobj=io.BytesIO(data),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        filename=name,
        meter=meter,
        origin="staff",
    ).raw_file
    normalize.raw_file_normalize(raw_file=raw)
    return raw


@pytest.mark.parametrize(
    "name, esiid, day, expected",
    [
        ("portal-IntervalData-2025-03-09-spring-forward.csv", "10443720000000002", date(2025, 3, 9), 92),
        ("portal-IntervalData-2025-11-02-fall-back.csv", "10443720000000002", date(2025, 11, 2), 100),
        ("portal-IntervalData-2025-12-14-estimated.csv", "10443720000000002", date(2025, 12, 14), 96),
    ],
)
def test_real_dst_samples_are_complete_with_the_days_true_interval_count(name, esiid, day, expected):
    load(name)
    (summary,) = usage.daily_summary(esiid=esiid, start=day, end=day)
    assert (summary.expected, summary.found, summary.completeness, summary.gaps) == (expected, expected, 1.0, [])


def test_spreadsheet_excerpt_counts_both_dst_days_and_partial_days():
    load("excel-resaved-IntervalData-excerpt.csv")
    days = {
        d.date: d
        for d in usage.daily_summary(esiid="10443720000000003", start=date(2025, 11, 1), end=date(2025, 11, 3))
    }
    assert days["2025-11-02"].expected == 100 and days["2025-11-02"].completeness == 1.0
    assert days["2025-11-01"].found == 0 and days["2025-11-01"].gaps[0]["intervals"] == 96
    (spring,) = usage.daily_summary(esiid="10443720000000003", start=date(2026, 3, 8), end=date(2026, 3, 8))
    assert (spring.expected, spring.found) == (92, 92)
    (partial,) = usage.daily_summary(esiid="10443720000000003", start=date(2025, 10, 24), end=date(2025, 10, 24))
    assert partial.found == 12 and partial.estimated == 7
    assert partial.gaps == [{"start": "2025-10-24T08:00:00Z", "end": "2025-10-25T05:00:00Z", "intervals": 84}]


def test_removed_block_shows_as_gap_ranges():
    load("portal-IntervalData-2025-11-02-fall-back.csv")
    rows = SmtInterval.objects.filter(esiid="10443720000000002")
    # remove 01:00-02:00 CST (the repeated hour) and 23:30-24:00
    rows.filter(ts__gte=datetime(2025, 11, 2, 7, tzinfo=UTC), ts__lt=datetime(2025, 11, 2, 8, tzinfo=UTC)).delete()
    rows.filter(ts__gte=datetime(2025, 11, 3, 5, 30, tzinfo=UTC)).delete()
    (day,) = usage.daily_summary(esiid="10443720000000002", start=date(2025, 11, 2), end=date(2025, 11, 2))
    assert day.found == 94 and day.completeness == 0.94
    assert day.gaps == [
        {"start": "2025-11-02T07:00:00Z", "end": "2025-11-02T08:00:00Z", "intervals": 4},
        {"start": "2025-11-03T05:30:00Z", "end": "2025-11-03T06:00:00Z", "intervals": 2},
    ]


def test_daily_summary_api(client):
    load("portal-IntervalData-2025-12-14-estimated.csv")
    body = client.get(
        "/api/admin/analysis/daily-summary?esiid=10443720000000002&dateStart=2025-12-13&dateEnd=2025-12-14", **TOKEN
    ).json()
    assert body["ok"] and [d["date"] for d in body["days"]] == ["2025-12-13", "2025-12-14"]
    day = body["days"][1]
    assert (day["expected"], day["found"], day["completeness"], day["kwh"], day["estimated"], day["generationKwh"]) == (
        96,
        96,
        1.0,
        85.947,
        16,
        0.0,
    )
    assert body["days"][0]["completeness"] == 0.0
    bad = client.get("/api/admin/analysis/daily-summary?esiid=1&dateStart=yesterday", **TOKEN)
    assert bad.status_code == 400 and "dateStart" in bad.json()["error"]


def test_intervals_api_filters_by_utc_range(client):
    raw = load("portal-IntervalData-2025-12-14-estimated.csv")
    url = "/api/admin/debug/smt/intervals?esiid=10443720000000002&meter=M1&dateStart=2025-12-14T23:45:00Z&dateEnd=2025-12-15T00:30:00Z"
    body = client.get(url, **TOKEN).json()
    assert body["count"] == 3
    assert body["intervals"][0] == {
        "esiid": "10443720000000002",
        "meter": "M1",
        "channel": "consumption",
        "ts": "2025-12-14T23:45:00Z",
        "kwh": 1.276,
        "quality": "estimated",
        "rawFileId": raw.pk,
    }
    assert client.get(url + "&limit=1", **TOKEN).json()["count"] == 1


def test_deletion_matches_preview_is_audited_and_renormalizing_restores(client, staff_user):
    raw = load("portal-IntervalData-2025-11-02-fall-back.csv")
    start, end = datetime(2025, 11, 2, 6, tzinfo=UTC), datetime(2025, 11, 2, 9, tzinfo=UTC)
    preview = usage.intervals_delete_preview(esiid="10443720000000002", meter="M1", start=start, end=end)
    assert preview["count"] == 12 and preview["rawFileIds"] == [raw.pk]
    body = {
        "esiid": "10443720000000002",
        "meter": "M1",
        "dateStart": "2025-11-02T06:00:00Z",
        "dateEnd": "2025-11-02T09:00:00Z",
        "reason": "bad load",
    }
    response = client.post("/api/admin/debug/smt/intervals", json.dumps(body), content_type="application/json", **TOKEN)
    assert response.status_code == 200 and response.json()["deletedCount"] == preview["count"]
    audit = IntervalDeletion.objects.get()
    assert (audit.actor, audit.deleted_count, audit.reason, audit.raw_file_ids) == (
        "token:admin",
        12,
        "bad load",
        [raw.pk],
    )
    assert SmtInterval.objects.count() == 88
    stats = normalize.raw_file_normalize(raw_file=raw)
    assert stats["intervalsInserted"] == 12 and SmtInterval.objects.count() == 100


@pytest.mark.parametrize(
    "body, message",
    [
        ({"meter": "M1", "dateStart": "2025-11-02", "dateEnd": "2025-11-03"}, "esiid"),
        ({"esiid": "10443720000000002", "meter": "M1", "dateStart": "2025-11-02"}, "unbounded"),
        ({"esiid": "10443720000000002", "meter": "M1", "dateStart": "2025-11-03", "dateEnd": "2025-11-02"}, "after"),
        ({"esiid": "10443720000000002", "meter": "M1", "dateStart": "x", "dateEnd": "2025-11-02"}, "dateStart"),
    ],
)
def test_bad_deletion_requests_are_400_and_delete_nothing(client, body, message):
    load("portal-IntervalData-2025-11-02-fall-back.csv")
    response = client.post("/api/admin/debug/smt/intervals", json.dumps(body), content_type="application/json", **TOKEN)
    assert response.status_code == 400 and message in response.json()["error"]
    assert SmtInterval.objects.count() == 100 and IntervalDeletion.objects.count() == 0


def test_backfill_total_equals_sum_of_data_and_says_when_cut(client, monkeypatch):
    load("portal-IntervalData-2025-12-14-estimated.csv")
    monkeypatch.setattr("django.utils.timezone.now", lambda: datetime(2025, 12, 20, tzinfo=UTC))
    body = client.post(
        "/api/admin/smt/backfill-usage",
        json.dumps({"esiid": "10443720000000002", "days": 30, "limit": 1000}),
        content_type="application/json",
        **TOKEN,
    ).json()
    assert body["summary"]["count"] == 96 and body["summary"]["truncated"] is False
    assert body["summary"]["totalKwh"] == 85.947 == round(sum(d["kwh"] for d in body["data"]), 3)
    cut = client.post(
        "/api/admin/smt/backfill-usage",
        json.dumps({"esiid": "10443720000000002", "days": 30, "limit": 10}),
        content_type="application/json",
        **TOKEN,
    ).json()["summary"]
    assert (
        cut["truncated"] is True
        and cut["count"] == 10
        and "cut 86 of 96" in cut["note"]
        and cut["fullTotalKwh"] == 85.947
    )


def test_portfolio_lists_worst_first():
    load("portal-IntervalData-2025-12-14-estimated.csv")
    load("excel-resaved-IntervalData-excerpt.csv")
    rows = usage.portfolio(days=2, today=date(2025, 12, 16))
    assert [r["esiid"] for r in rows] == ["10443720000000003", "10443720000000002"]
    assert rows[1]["found"] == 96 and rows[1]["expected"] == 192 and rows[1]["completeness"] == 0.5


def test_daily_summary_reads_the_day_totals_and_gaps_from_the_covering_index():
    """The totals come from smt_interval_day; the gap query is an index-only scan on
    (esiid, ts) INCLUDE (meter, channel, kwh, quality).

    The planner's choice between index and index-only scans follows the visibility map (a test
    transaction cannot VACUUM), so sequential and bitmap scans are switched off to show the plan
    it has once the table is vacuumed; a column outside the index would make it an Index Scan.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    load("portal-IntervalData-2025-11-02-fall-back.csv")
    SmtInterval.objects.filter(
        ts__gte=datetime(2025, 11, 2, 7, tzinfo=UTC), ts__lt=datetime(2025, 11, 2, 8, tzinfo=UTC)
    ).delete()
    with CaptureQueriesContext(connection) as queries:
        (day,) = usage.daily_summary(esiid="10443720000000002", start=date(2025, 11, 2), end=date(2025, 11, 2))
    assert (day.found, len(day.gaps)) == (96, 1) and len(queries) == 2
    totals, gaps = (query["sql"] for query in queries)
    assert "FROM smt_interval_day" in totals
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + gaps)
        plan = "\n".join(line for (line,) in cursor.fetchall())
    # On a partition: smt_interval_y2025m11's copy of the covering index (or of the key, whose
    # columns cover this query too).
    assert "Index Only Scan using smt_interval_y2025m11_" in plan, plan


def test_day_totals_follow_every_write_path(client):
    """Ingest (COPY and upsert), a revision, an audited deletion, re-normalizing, raw UPDATE and
    DELETE statements and TRUNCATE all keep smt_interval_day equal to the recomputed totals."""
    from django.db import connection

    esiid, day = "10443720000000002", date(2025, 12, 14)
    raw = load("portal-IntervalData-2025-12-14-estimated.csv")
    load("portal-IntervalData-2025-11-02-fall-back.csv", meter="M2")
    assert usage.day_totals_drift() == [] and usage.daily_summary(esiid=esiid, start=day, end=day)[0].estimated == 16
    text = (SMT_SAMPLES / "portal-IntervalData-2025-12-14-estimated.csv").read_text()
    revised = text.replace("12/15/2025 07:38:23", "12/16/2025 08:00:00").replace(",E,", ",A,").encode()
    stored = storage.raw_file_store(
        fileobj=io.BytesIO(revised),
        sha256=hashlib.sha256(revised).hexdigest(),
        size=len(revised),
        filename="revised.csv",
        meter="M1",
        origin="staff",
    ).raw_file
    assert normalize.raw_file_normalize(raw_file=stored)["intervalsUpdated"] == 96  # a newer revision of every row
    (summary,) = usage.daily_summary(esiid=esiid, start=day, end=day)
    assert usage.day_totals_drift() == [] and (summary.found, summary.estimated, summary.kwh) == (96, 0, 85.947)
    body = {"esiid": esiid, "meter": "M1", "dateStart": "2025-12-14T12:00:00Z", "dateEnd": "2025-12-14T14:00:00Z"}
    assert (
        client.post(
            "/api/admin/debug/smt/intervals", json.dumps(body), content_type="application/json", **TOKEN
        ).json()["deletedCount"]
        == 8
    )
    assert usage.day_totals_drift() == [] and usage.daily_summary(esiid=esiid, start=day, end=day)[0].found == 88
    normalize.raw_file_normalize(raw_file=raw)
    assert usage.day_totals_drift() == [] and usage.daily_summary(esiid=esiid, start=day, end=day)[0].found == 96
    with connection.cursor() as cursor:  # move the day's last hour into the next local day, change kWh
        cursor.execute(
            "UPDATE smt_interval SET ts = ts + interval '1 hour', kwh = kwh + 1 WHERE ts >= '2025-12-15T05:00:00Z' AND ts < '2025-12-15T06:00:00Z'"
        )
        assert usage.day_totals_drift() == []
        cursor.execute("DELETE FROM smt_interval WHERE meter = 'M2'")
        assert usage.day_totals_drift() == []
        cursor.execute("SELECT count(*) FROM smt_interval_day WHERE meter = 'M2'")
        assert cursor.fetchone() == (0,)
    days = usage.daily_summary(esiid=esiid, start=day, end=day + timedelta(days=1))
    assert [d.found for d in days] == [92, 4] and days[0].gaps[0]["start"] == "2025-12-15T05:00:00Z"
    with connection.cursor() as cursor:
        cursor.execute(
            "SET CONSTRAINTS ALL IMMEDIATE"
        )  # the test transaction's deferred FK checks, else TRUNCATE refuses
        cursor.execute("TRUNCATE smt_interval")
        cursor.execute("SELECT count(*) FROM smt_interval_day")
        assert cursor.fetchone() == (0,)


def test_day_totals_command_reports_and_repairs_drift():
    from django.core.management import call_command
    from django.db import connection

    load("portal-IntervalData-2025-11-02-fall-back.csv")
    out = io.StringIO()
    call_command("smt_day_totals", stdout=out)
    assert "in step" in out.getvalue()
    with connection.cursor() as cursor:  # what a restore with the triggers off would leave
        cursor.execute("UPDATE smt_interval_day SET found = found - 1")
    with pytest.raises(SystemExit):
        call_command("smt_day_totals", stdout=io.StringIO(), stderr=io.StringIO())
    call_command("smt_day_totals", "--rebuild", stdout=out)
    assert (
        usage.day_totals_drift() == []
        and usage.daily_summary(esiid="10443720000000002", start=date(2025, 11, 2), end=date(2025, 11, 2))[0].found
        == 100
    )
