"""SMT's monitor kinds and metrics, registered with ops (ops.registry): meter data per ESIID,
failed raw files, the SFTP mirror. Each evaluator is set-based: a query or two for all subjects."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, Max, Min
from prometheus_client.core import GaugeMetricFamily

from ops.evaluate import ago, by_age, when
from ops.metrics import estimated_rows, gauge
from ops.models import JobRun, Monitor
from ops.registry import Observed, register_kind, register_metrics
from smt.models import House, RawSmtFile, SmtInterval

State = Monitor.State


def smt_newest_intervals() -> dict[str, datetime]:
    """{esiid: newest interval start}. On PostgreSQL a skip scan walks the day rollup's
    (esiid, day) index backwards: one probe finds the next ESIID down together with its newest
    day, and a second reads the newest interval within that day alone (one partition). A GROUP BY
    would read every day of every ESIID (a year of days for 100,000 ESIIDs is 36 M rollup rows)."""
    if connection.vendor != "postgresql":
        return smt_newest_intervals_plain()
    sql = """
        WITH RECURSIVE e(esiid, day) AS (
            (SELECT esiid, day FROM smt_interval_day ORDER BY esiid DESC, day DESC LIMIT 1)
            UNION ALL
            SELECT n.esiid, n.day FROM e, LATERAL (
                SELECT d.esiid, d.day FROM smt_interval_day d WHERE d.esiid < e.esiid
                ORDER BY d.esiid DESC, d.day DESC LIMIT 1) n
        )
        SELECT e.esiid, COALESCE(
            (SELECT max(i.ts) FROM smt_interval i WHERE i.esiid = e.esiid
               AND i.ts >= e.day::timestamp AT TIME ZONE 'America/Chicago'
               AND i.ts < (e.day + 1)::timestamp AT TIME ZONE 'America/Chicago'),
            -- rollup rows without intervals (benchmarks load the rollup alone): the day's end
            (e.day + 1)::timestamp AT TIME ZONE 'America/Chicago' - interval '15 minutes')
        FROM e
    """
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return dict(cursor.fetchall())


def smt_newest_intervals_plain() -> dict[str, datetime]:
    """The reference: what the fast path must agree with (tests compare them on PostgreSQL)."""
    return dict(SmtInterval.objects.values("esiid").annotate(newest=Max("ts")).values_list("esiid", "newest"))


def smt_data(*, now: datetime, watched: set[str]) -> dict[str, Observed]:
    """One monitor per ESIID of a house, with intervals in the last 30 days, or already watched."""
    newest = smt_newest_intervals()
    houses = dict(House.objects.values("esiid").annotate(added=Min("created_at")).values_list("esiid", "added"))
    late = timedelta(hours=settings.SMT_LATE_HOURS)
    down = late + timedelta(hours=settings.SMT_LATE_GRACE_HOURS)
    recent = now - timedelta(days=30)
    keys = {e for e, ts in newest.items() if ts >= recent} | set(houses) | watched
    threshold = f"threshold {settings.SMT_LATE_HOURS} h"
    result = {}
    for esiid in keys:
        ts = newest.get(esiid)
        if ts is not None:
            evidence = f"newest interval {when(ts)}, {ago(now, ts)}; {threshold}"
            state = by_age(now - ts, late, down)
        else:
            since = houses.get(esiid, now)
            evidence = f"no intervals stored since the house was added {when(since)}, {ago(now, since)}; {threshold}"
            state = by_age(now - since, late, down)
        result[esiid] = Observed(esiid, state, evidence)
    return result


def smt_files(*, now: datetime, watched: set[str]) -> dict[str, Observed]:
    failed = RawSmtFile.objects.filter(status=RawSmtFile.Status.FAILED).values_list("pk", "filename", "error")
    return {str(pk): Observed(f"{name} (#{pk})", State.DOWN, f"normalize failed: {error[:300] or 'no message'}")
            for pk, name, error in failed}


def smt_mirror(*, now: datetime, watched: set[str]) -> dict[str, Observed]:
    """Late when no run succeeded for SMT_MIRROR_LATE_MINUTES; down after twice that, or 3 failures in a row."""
    if not settings.SMT_HOST:
        return {}
    runs = list(JobRun.objects.filter(kind=JobRun.Kind.MIRROR).exclude(status__in=[JobRun.Status.QUEUED, JobRun.Status.RUNNING])
                .order_by("-created_at").values_list("status", "finished_at")[:3])
    ok = JobRun.objects.filter(kind=JobRun.Kind.MIRROR, status=JobRun.Status.SUCCEEDED).aggregate(t=Max("finished_at"))["t"]
    late = timedelta(minutes=settings.SMT_MIRROR_LATE_MINUTES)
    if len(runs) == 3 and all(status == JobRun.Status.FAILED for status, _ in runs):
        return {"sftp": Observed("SFTP mirror", State.DOWN, "the last 3 mirror runs failed; see the Jobs page")}
    if ok is None:
        return {"sftp": Observed("SFTP mirror", State.LATE if runs else State.UP, "no mirror run has succeeded yet")}
    state = by_age(now - ok, late, 2 * late)
    return {"sftp": Observed("SFTP mirror", state, f"last successful run {when(ok)}, {ago(now, ok)}; "
                                                   f"threshold {settings.SMT_MIRROR_LATE_MINUTES} min")}


def smt_metrics(now: datetime) -> list[GaugeMetricFamily]:
    files = RawSmtFile.objects.values_list("status").annotate(n=Count("pk"))
    newest_ts = SmtInterval.objects.aggregate(t=Max("ts"))["t"]
    return [
        gauge("wattledger_smt_intervals_stored", "SMT intervals stored (planner estimate on PostgreSQL)",
              [((), estimated_rows(SmtInterval._meta.db_table))]),
        gauge("wattledger_smt_raw_files", "Raw SMT files by status", files, ["status"]),
        gauge("wattledger_smt_newest_interval_age_seconds", "Age of the newest SMT interval",
              [((), (now - newest_ts).total_seconds() if newest_ts else 0)]),
    ]


register_kind(Monitor.Kind.SMT_DATA, smt_data)
register_kind(Monitor.Kind.SMT_FILE, smt_files, cleared="the file was normalized or deleted")
register_kind(Monitor.Kind.SMT_MIRROR, smt_mirror)
register_metrics(smt_metrics)
