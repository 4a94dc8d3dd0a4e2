"""What the source apps' evaluators share (the wording of evidence, the late/down rule), and the
one kind ops watches itself: the task cluster.

The source apps' kinds live in their own `monitors.py` (smt, ercot, telemetry) and register
through ops.registry; ops imports none of them.
"""

from datetime import datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.db.models import Min
from django.utils import timezone

from ops.models import Monitor
from ops.registry import Observed, register_kind

State = Monitor.State


@lru_cache(maxsize=4096)
def when(moment: datetime) -> str:
    """Cached: thousands of ESIIDs share a newest interval (SMT delivers them in daily batches)."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


def ago(now: datetime, moment: datetime) -> str:
    minutes = int((now - moment).total_seconds() // 60)
    return f"{minutes // 60} h ago" if minutes >= 120 else f"{minutes} min ago"


def by_age(age: timedelta, late: timedelta, down: timedelta) -> str:
    return State.DOWN if age > down else State.LATE if age > late else State.UP


def workers(*, now: datetime, watched: set[str]) -> dict[str, Observed]:
    """The cluster is down when a queued task or a due schedule waits past WORKERS_LATE_MINUTES."""
    oldest = oldest_queued_task()
    late = timedelta(minutes=settings.WORKERS_LATE_MINUTES)
    if oldest is None:
        return {"cluster": Observed("Task cluster", State.UP, "no task waiting")}
    state = by_age(now - oldest, late, 3 * late)
    return {
        "cluster": Observed(
            "Task cluster",
            state,
            f"oldest waiting task queued {when(oldest)}, {ago(now, oldest)}; "
            f"threshold {settings.WORKERS_LATE_MINUTES} min",
        )
    }


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


register_kind(Monitor.Kind.WORKERS, workers)
