"""What the source apps' evaluators share (the wording of evidence, the late/down rule), and the
one kind ops watches itself: the task cluster.

The source apps' kinds live in their own `monitors.py` (smt, ercot, telemetry) and register
through ops.registry; ops imports none of them.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.db.models import Min
from django.utils import timezone

from ops.heartbeat import FRESH, STOPPED
from ops.models import Heartbeat, Monitor
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


@dataclass(frozen=True)
class Heard:
    """What a family of processes' heartbeats say: the state, why, and how many are connected
    (beating and connected) and beating (connected or not)."""

    state: str
    evidence: str
    connected: int
    beating: int


def heartbeat_status(beat: Heartbeat, *, now: datetime) -> str:
    """connected, disconnected (beating, cut off from the broker), stopped (on purpose), or
    silent (no beat for FRESH: gone without a word)."""
    if not beat.connected and beat.detail == STOPPED:
        return "stopped"
    if now - beat.at > FRESH:
        return "silent"
    return "connected" if beat.connected else "disconnected"


def heartbeat_words(beat: Heartbeat, *, now: datetime) -> str:
    status = heartbeat_status(beat, now=now)
    if status == "connected":
        return f"connected since {when(beat.since)}, heartbeat {ago(now, beat.at)}"
    if status == "stopped":
        return f"stopped {when(beat.at)}, {ago(now, beat.at)}"
    if status == "silent":
        return f"no heartbeat since {when(beat.at)}, {ago(now, beat.at)}"
    return f"disconnected from the broker since {when(beat.since)}: {beat.detail}"


def heartbeats_judge(*, beats: list[Heartbeat], now: datetime, late: timedelta, noun: str) -> Heard:
    """One state for the processes of a family (ops.heartbeat rows, at least one).

    Up while one is connected and every other one is connected too or stopped on purpose; late
    while one is connected and another is cut off or silent (the group runs short-handed, and a
    member that died unnoticed is not hidden by the others' beats). None connected: late from the
    newest change for `late`, then down; down at once when none beats at all.
    """
    status = {beat.name: heartbeat_status(beat, now=now) for beat in beats}
    connected = [beat for beat in beats if status[beat.name] == "connected"]
    beating = [beat for beat in beats if now - beat.at <= FRESH]
    if connected:
        missing = {"silent", "disconnected"} & set(status.values())
        state = State.LATE if missing else State.UP
    elif beating:
        state = by_age(now - max(beat.since for beat in beating), timedelta(0), late)
    else:
        state = State.DOWN
    if len(beats) == 1:
        evidence = heartbeat_words(beats[0], now=now)
    else:
        names = ", ".join(member(beat.name) for beat in connected)
        evidence = "; ".join(
            [f"{len(connected)} of {len(beats)} {noun}s connected" + (f" ({names})" if names else "")]
            + [f"{member(b.name)}: {heartbeat_words(b, now=now)}" for b in beats if status[b.name] != "connected"]
        )
    return Heard(state, evidence, len(connected), len(beating))


def member(name: str) -> str:
    """`family:member` -> member; a bare family name (one process alone) as it is."""
    return name.partition(":")[2] or name


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
