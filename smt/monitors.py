"""SMT's monitor kinds and metrics, registered with ops (ops.registry): meter data per ESIID,
failed raw files, the SFTP mirror. Each evaluator is set-based: a query or two for all subjects."""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, Max, Min
from prometheus_client.core import GaugeMetricFamily

from ops.evaluate import ago, by_age, when
from ops.metrics import estimated_rows, gauge
from ops.models import JobRun, Monitor
from ops.registry import Observed, States, register_kind, register_metrics
from smt.models import House, RawSmtFile, SmtInterval

State = Monitor.State


def smt_newest_intervals() -> dict[str, datetime]:
    """{esiid: newest interval start}. On PostgreSQL, read from smt_interval_newest, one row per
    ESIID that statement triggers on smt_interval keep exact (migration 0013; partition drops
    recompute theirs in smt.partitions): 100,000 rows read in one sequential scan, where asking
    smt_interval itself costs an index probe per ESIID."""
    if connection.vendor != "postgresql":
        return smt_newest_intervals_plain()
    with connection.cursor() as cursor:
        cursor.execute("SELECT esiid, ts FROM smt_interval_newest")
        return dict(cursor.fetchall())


def smt_newest_intervals_plain() -> dict[str, datetime]:
    """The reference: what the fast path must agree with (tests compare them on PostgreSQL)."""
    return dict(SmtInterval.objects.values("esiid").annotate(newest=Max("ts")).values_list("esiid", "newest"))


def smt_newest_epochs() -> dict[str, float]:
    """smt_newest_intervals as Unix seconds: psycopg loads 100,000 floats several times faster
    than 100,000 time-zone-aware datetimes, and the check only compares them with two cutoffs."""
    if connection.vendor != "postgresql":
        return {esiid: ts.timestamp() for esiid, ts in smt_newest_intervals_plain().items()}
    with connection.cursor() as cursor:
        cursor.execute("SELECT esiid, extract(epoch FROM ts)::float8 FROM smt_interval_newest")
        return dict(cursor.fetchall())


def smt_data(*, now: datetime, watched: set[str]) -> States:
    """One monitor per ESIID of a house, with intervals in the last 30 days, or already watched.
    States by comparing Unix seconds with two cutoffs; the evidence text only for the ESIIDs the
    check asks about (new monitors, changes of state)."""
    newest = smt_newest_epochs()
    houses = dict(House.objects.values("esiid").annotate(added=Min("created_at")).values_list("esiid", "added"))
    added = {esiid: moment.timestamp() for esiid, moment in houses.items()}
    late = timedelta(hours=settings.SMT_LATE_HOURS)
    down = late + timedelta(hours=settings.SMT_LATE_GRACE_HOURS)
    stamp = now.timestamp()
    recent = stamp - timedelta(days=30).total_seconds()
    keys = {e for e, seconds in newest.items() if seconds >= recent} | set(houses) | watched
    # by_age's rule (older than the threshold), as cutoffs: one float comparison per ESIID
    late_before, down_before = stamp - late.total_seconds(), stamp - down.total_seconds()
    states = {}
    for esiid in keys:
        seconds = newest.get(esiid)
        if seconds is None:
            seconds = added.get(esiid, stamp)
        states[esiid] = State.DOWN if seconds < down_before else State.LATE if seconds < late_before else State.UP
    threshold = f"threshold {settings.SMT_LATE_HOURS} h"

    def describe(esiid: str) -> Observed:
        if esiid in newest:
            ts = datetime.fromtimestamp(newest[esiid], UTC)
            return Observed(esiid, states[esiid], f"newest interval {when(ts)}, {ago(now, ts)}; {threshold}")
        since = houses.get(esiid, now)
        return Observed(
            esiid,
            states[esiid],
            f"no intervals stored since the house was added {when(since)}, {ago(now, since)}; {threshold}",
        )

    return States(states, describe)


def smt_files(*, now: datetime, watched: set[str]) -> dict[str, Observed]:
    failed = RawSmtFile.objects.filter(status=RawSmtFile.Status.FAILED).values_list("pk", "filename", "error")
    return {
        str(pk): Observed(f"{name} (#{pk})", State.DOWN, f"normalize failed: {error[:300] or 'no message'}")
        for pk, name, error in failed
    }


def smt_mirror(*, now: datetime, watched: set[str]) -> dict[str, Observed]:
    """Late when no run succeeded for SMT_MIRROR_LATE_MINUTES; down after twice that, or 3 failures in a row."""
    if not settings.SMT_HOST:
        return {}
    runs = list(
        JobRun.objects.filter(kind=JobRun.Kind.MIRROR)
        .exclude(status__in=[JobRun.Status.QUEUED, JobRun.Status.RUNNING])
        .order_by("-created_at")
        .values_list("status", "finished_at")[:3]
    )
    ok = JobRun.objects.filter(kind=JobRun.Kind.MIRROR, status=JobRun.Status.SUCCEEDED).aggregate(t=Max("finished_at"))[
        "t"
    ]
    late = timedelta(minutes=settings.SMT_MIRROR_LATE_MINUTES)
    if len(runs) == 3 and all(status == JobRun.Status.FAILED for status, _ in runs):
        return {"sftp": Observed("SFTP mirror", State.DOWN, "the last 3 mirror runs failed; see the Jobs page")}
    if ok is None:
        return {"sftp": Observed("SFTP mirror", State.LATE if runs else State.UP, "no mirror run has succeeded yet")}
    state = by_age(now - ok, late, 2 * late)
    return {
        "sftp": Observed(
            "SFTP mirror",
            state,
            f"last successful run {when(ok)}, {ago(now, ok)}; threshold {settings.SMT_MIRROR_LATE_MINUTES} min",
        )
    }


def smt_metrics(now: datetime) -> list[GaugeMetricFamily]:
    files = RawSmtFile.objects.values_list("status").annotate(n=Count("pk"))
    newest_ts = SmtInterval.objects.aggregate(t=Max("ts"))["t"]
    return [
        gauge(
            "wattledger_smt_intervals_stored",
            "SMT intervals stored (planner estimate on PostgreSQL)",
            [((), estimated_rows(SmtInterval._meta.db_table))],
        ),
        gauge("wattledger_smt_raw_files", "Raw SMT files by status", files, ["status"]),
        gauge(
            "wattledger_smt_newest_interval_age_seconds",
            "Age of the newest SMT interval",
            [((), (now - newest_ts).total_seconds() if newest_ts else 0)],
        ),
    ]


register_kind(Monitor.Kind.SMT_DATA, smt_data)
register_kind(Monitor.Kind.SMT_FILE, smt_files, cleared="the file was normalized or deleted")
register_kind(Monitor.Kind.SMT_MIRROR, smt_mirror)
register_metrics(smt_metrics)
