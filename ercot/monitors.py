"""ERCOT's monitor kinds, registered with ops (ops.registry): today's DAILY extract per TDSP and
the last fetch run."""

from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.utils import timezone

from ercot.models import ErcotIngest
from ops.evaluate import when
from ops.models import JobRun, Monitor
from ops.registry import Observed, register_kind

State = Monitor.State
UNFINISHED = [JobRun.Status.QUEUED, JobRun.Status.RUNNING]


def ercot_daily(*, now: datetime, watched: set[str]) -> dict[str, Observed]:
    """Per TDSP seen in the last 31 days: late while today's DAILY is missing after a fetch ran
    today; down once the day's three polls have run without it."""
    today = timezone.localdate(now)
    rows = (
        ErcotIngest.objects.filter(file_date__gte=today - timedelta(days=31))
        .exclude(tdsp="")
        .values("tdsp")
        .annotate(today=Count("pk", filter=Q(file_date=today, kind="DAILY", status__in=["stored", "skipped"])))
    )
    start = timezone.make_aware(datetime.combine(today, datetime.min.time()))
    polls = (
        JobRun.objects.filter(kind=JobRun.Kind.ERCOT_FETCH, created_at__gte=start)
        .exclude(status__in=UNFINISHED)
        .count()
    )
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
    run = (
        JobRun.objects.filter(kind=JobRun.Kind.ERCOT_FETCH)
        .exclude(status__in=UNFINISHED)
        .order_by("-created_at")
        .first()
    )
    if run is None:
        return {}
    state = {JobRun.Status.FAILED: State.DOWN, JobRun.Status.PARTIAL: State.LATE}.get(run.status, State.UP)
    evidence = f"last fetch run #{run.pk} {run.status} at {when(run.finished_at or run.created_at)}"
    return {"fetch": Observed("ERCOT fetch", state, evidence + (f": {run.error[:300]}" if run.error else ""))}


register_kind(Monitor.Kind.ERCOT_DAILY, ercot_daily)
register_kind(Monitor.Kind.ERCOT_FETCH, ercot_fetch)
