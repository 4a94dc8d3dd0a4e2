"""What each monitor kind sees now: one query (or two) per kind, never one per ESIID or device.

Every function returns {key: Observed} for the subjects it watches. A monitor whose key is not
returned is up again (its file was normalized, its ticket resolved); see ops.monitors.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from ops.models import Monitor

State = Monitor.State


@dataclass(frozen=True)
class Observed:
    subject: str
    state: str
    evidence: str


def _when(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


def _ago(now: datetime, moment: datetime) -> str:
    minutes = int((now - moment).total_seconds() // 60)
    return f"{minutes // 60} h ago" if minutes >= 120 else f"{minutes} min ago"


def _by_age(age: timedelta, late: timedelta, down: timedelta) -> str:
    return State.DOWN if age > down else State.LATE if age > late else State.UP


# ---------------------------------------------------------------- SMT meter data


def smt_newest_intervals() -> dict[str, datetime]:
    """{esiid: newest interval start}. On PostgreSQL a skip scan over the day rollup's index
    finds each ESIID in one probe, and a second probe reads its newest interval: a GROUP BY would
    read every day of every ESIID (a year of days for 100,000 ESIIDs is 36 M rollup rows)."""
    if connection.vendor != "postgresql":
        return smt_newest_intervals_plain()
    sql = """
        WITH RECURSIVE e(esiid) AS (
            (SELECT esiid FROM smt_interval_day ORDER BY esiid LIMIT 1)
            UNION ALL
            SELECT (SELECT d.esiid FROM smt_interval_day d WHERE d.esiid > e.esiid ORDER BY d.esiid LIMIT 1)
            FROM e WHERE e.esiid IS NOT NULL
        )
        SELECT e.esiid, COALESCE(
            (SELECT max(i.ts) FROM smt_interval i WHERE i.esiid = e.esiid),
            -- rollup rows without intervals (benchmarks load the rollup alone): the day's end
            (SELECT (max(d.day) + 1)::timestamp AT TIME ZONE 'America/Chicago' - interval '15 minutes'
             FROM smt_interval_day d WHERE d.esiid = e.esiid))
        FROM e WHERE e.esiid IS NOT NULL
    """
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return dict(cursor.fetchall())


def smt_newest_intervals_plain() -> dict[str, datetime]:
    """The reference: what the fast path must agree with (tests compare them on PostgreSQL)."""
    from smt.models import SmtInterval

    return dict(SmtInterval.objects.values("esiid").annotate(newest=Max("ts")).values_list("esiid", "newest"))


def smt_data(*, now: datetime, watched: set[str]) -> dict[str, Observed]:
    """One monitor per ESIID of a house, with intervals in the last 30 days, or already watched."""
    from smt.models import House

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
            evidence = f"newest interval {_when(ts)}, {_ago(now, ts)}; {threshold}"
            state = _by_age(now - ts, late, down)
        else:
            since = houses.get(esiid, now)
            evidence = f"no intervals stored since the house was added {_when(since)}, {_ago(now, since)}; {threshold}"
            state = _by_age(now - since, late, down)
        result[esiid] = Observed(esiid, state, evidence)
    return result


def smt_files(*, now: datetime, watched: set[str]) -> dict[str, Observed]:
    from smt.models import RawSmtFile

    failed = RawSmtFile.objects.filter(status=RawSmtFile.Status.FAILED).values_list("pk", "filename", "error")
    return {str(pk): Observed(f"{name} (#{pk})", State.DOWN, f"normalize failed: {error[:300] or 'no message'}")
            for pk, name, error in failed}


def smt_mirror(*, now: datetime, watched: set[str]) -> dict[str, Observed]:
    """Late when no run succeeded for SMT_MIRROR_LATE_MINUTES; down after twice that, or 3 failures in a row."""
    from ops.models import JobRun

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
    state = _by_age(now - ok, late, 2 * late)
    return {"sftp": Observed("SFTP mirror", state, f"last successful run {_when(ok)}, {_ago(now, ok)}; "
                                                   f"threshold {settings.SMT_MIRROR_LATE_MINUTES} min")}


# ---------------------------------------------------------------- ERCOT


def ercot_daily(*, now: datetime, watched: set[str]) -> dict[str, Observed]:
    """Per TDSP seen in the last 31 days: late while today's DAILY is missing after a fetch ran
    today; down once the day's three polls have run without it."""
    from ercot.models import ErcotIngest
    from ops.models import JobRun

    today = timezone.localdate(now)
    rows = (ErcotIngest.objects.filter(file_date__gte=today - timedelta(days=31)).exclude(tdsp="")
            .values("tdsp").annotate(today=Count("pk", filter=Q(file_date=today, kind="DAILY", status__in=["stored", "skipped"]))))
    start = timezone.make_aware(datetime.combine(today, datetime.min.time()))
    polls = JobRun.objects.filter(kind=JobRun.Kind.ERCOT_FETCH, created_at__gte=start).exclude(status__in=["queued", "running"]).count()
    result = {}
    for row in rows:
        if row["today"]:
            state, evidence = State.UP, f"DAILY for {today} stored"
        else:
            state = State.DOWN if polls >= 3 else State.LATE if polls else State.UP
            evidence = f"DAILY for {today} still missing after {polls} fetch run(s) today"
        result[row["tdsp"]] = Observed(row["tdsp"], state, evidence)
    return result


def ercot_fetch(*, now: datetime, watched: set[str]) -> dict[str, Observed]:
    from ops.models import JobRun

    run = (JobRun.objects.filter(kind=JobRun.Kind.ERCOT_FETCH).exclude(status__in=["queued", "running"])
           .order_by("-created_at").first())
    if run is None:
        return {}
    state = {JobRun.Status.FAILED: State.DOWN, JobRun.Status.PARTIAL: State.LATE}.get(run.status, State.UP)
    evidence = f"last fetch run #{run.pk} {run.status} at {_when(run.finished_at or run.created_at)}"
    return {"fetch": Observed("ERCOT fetch", state, evidence + (f": {run.error[:300]}" if run.error else ""))}


# ---------------------------------------------------------------- telemetry and workers


def devices(*, now: datetime, watched: set[str]) -> dict[str, Observed]:
    """Late when silent past TELEMETRY_SILENT_MINUTES, down after four times that."""
    from telemetry.models import Device

    late = timedelta(minutes=settings.TELEMETRY_SILENT_MINUTES)
    result = {}
    for pk, name, seen, created in Device.objects.values_list("pk", "name", "last_seen_at", "created_at"):
        heard = seen or created
        evidence = (f"last heard {_when(seen)}, {_ago(now, seen)}" if seen else "never heard") + \
            f"; threshold {settings.TELEMETRY_SILENT_MINUTES} min"
        result[str(pk)] = Observed(name, _by_age(now - heard, late, 4 * late), evidence)
    return result


def subscriber(*, now: datetime, watched: set[str]) -> dict[str, Observed]:
    """No message at all (reading, heartbeat or malformed) for TELEMETRY_SUBSCRIBER_LATE_MINUTES."""
    from telemetry.models import Device, MalformedMessage

    if not settings.MQTT_URL:
        return {}
    heard = [t for t in (Device.objects.aggregate(t=Max("last_seen_at"))["t"],
                         MalformedMessage.objects.aggregate(t=Max("received_at"))["t"]) if t]
    late = timedelta(minutes=settings.TELEMETRY_SUBSCRIBER_LATE_MINUTES)
    if not heard:
        return {"mqtt": Observed("MQTT subscriber", State.LATE, "no message stored yet")}
    last = max(heard)
    evidence = f"newest message {_when(last)}, {_ago(now, last)}; threshold {settings.TELEMETRY_SUBSCRIBER_LATE_MINUTES} min"
    return {"mqtt": Observed("MQTT subscriber", _by_age(now - last, late, 3 * late), evidence)}


def tickets(*, now: datetime, watched: set[str]) -> dict[str, Observed]:
    """Late while reconciliation tickets are open; down once one has waited a day."""
    from telemetry.models import ReviewTicket

    found = ReviewTicket.objects.filter(status=ReviewTicket.Status.OPEN).aggregate(n=Count("pk"), oldest=Min("created_at"))
    if not found["n"]:
        return {}
    state = _by_age(now - found["oldest"], timedelta(0), timedelta(hours=24))
    return {"open": Observed("Reconciliation tickets", state,
                             f"{found['n']} open ticket(s), oldest opened {_when(found['oldest'])}")}


def workers(*, now: datetime, watched: set[str]) -> dict[str, Observed]:
    """The cluster is down when a queued task or a due schedule waits past WORKERS_LATE_MINUTES."""
    oldest = oldest_queued_task()
    late = timedelta(minutes=settings.WORKERS_LATE_MINUTES)
    if oldest is None:
        return {"cluster": Observed("Task cluster", State.UP, "no task waiting")}
    state = _by_age(now - oldest, late, 3 * late)
    return {"cluster": Observed("Task cluster", state, f"oldest waiting task queued {_when(oldest)}, {_ago(now, oldest)}; "
                                                       f"threshold {settings.WORKERS_LATE_MINUTES} min")}


def oldest_queued_task() -> datetime | None:
    """The older of: the first task in the ORM broker's queue, the most overdue schedule."""
    from django_q.models import OrmQ, Schedule

    times = []
    first = OrmQ.objects.order_by("pk").first() if settings.Q_CLUSTER.get("orm") else None
    if first is not None and isinstance(first.task, dict) and first.task.get("started"):
        times.append(first.task["started"])
    due = Schedule.objects.exclude(repeats=0).aggregate(t=Min("next_run"))["t"]
    if due is not None and due < timezone.now():
        times.append(due)
    return min(times) if times else None


KINDS = {
    Monitor.Kind.SMT_DATA: smt_data, Monitor.Kind.SMT_FILE: smt_files, Monitor.Kind.SMT_MIRROR: smt_mirror,
    Monitor.Kind.ERCOT_DAILY: ercot_daily, Monitor.Kind.ERCOT_FETCH: ercot_fetch, Monitor.Kind.DEVICE: devices,
    Monitor.Kind.SUBSCRIBER: subscriber, Monitor.Kind.TICKETS: tickets, Monitor.Kind.WORKERS: workers,
}
# What a monitor whose subject is no longer reported says when it comes up again.
CLEARED = {
    Monitor.Kind.SMT_FILE: "the file was normalized or deleted",
    Monitor.Kind.TICKETS: "no open tickets",
}
