"""monitors_check: evaluate every kind, record each change of state once, queue its notifications.

Two checks may run at once (two clusters, a timer beside the schedule). A change is recorded by
a conditional UPDATE (`WHERE state = <the state this check read>`): on PostgreSQL the second
UPDATE waits for the first, then finds the state already changed and matches no row, so only
the process whose UPDATE changed the row writes the event and its deliveries.
"""

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from ops import alerts, evaluate, registry  # noqa: F401 - evaluate registers the workers kind
from ops.models import KindCheck, Monitor, MonitorEvent

CHUNK = 1000


@dataclass
class CheckResult:
    changed: list[MonitorEvent] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def monitors_check(*, now: datetime | None = None, kinds: Iterable[str] | None = None) -> CheckResult:
    """Evaluate each kind once; returns the events this process recorded."""
    now = now or timezone.now()
    result = CheckResult()
    for kind in kinds or list(registry.KINDS):
        started = time.monotonic()
        result.changed += monitor_kind_check(kind=kind, now=now)
        result.seconds[kind] = time.monotonic() - started
        KindCheck.objects.update_or_create(kind=kind, defaults={"checked_at": now, "seconds": result.seconds[kind]})
    alerts.deliveries_retry_due(now=now)
    return result


def monitor_kind_check(*, kind: str, now: datetime) -> list[MonitorEvent]:
    """Compare the kind's states with the stored ones as plain tuples (no Monitor objects), and
    ask the kind for its words only for the monitors it creates and the states that change."""
    existing = {
        key: (pk, state) for pk, key, state in Monitor.objects.filter(kind=kind).values_list("pk", "key", "state")
    }
    found = registry.kind_states(kind, now=now, watched=set(existing))
    new = [
        Monitor(kind=kind, key=key, subject=found.describe(key).subject, since=now)
        for key in found.states.keys() - existing.keys()
    ]
    if new:
        Monitor.objects.bulk_create(new, ignore_conflicts=True, batch_size=CHUNK)
        existing.update(
            {
                key: (pk, state)
                for pk, key, state in Monitor.objects.filter(kind=kind, key__in=[m.key for m in new]).values_list(
                    "pk", "key", "state"
                )
            }
        )
    cleared = registry.kind_cleared(kind)
    states, up, paused = found.states, Monitor.State.UP, Monitor.State.PAUSED
    changes = []
    for key, (pk, state) in existing.items():
        target = states.get(key, up)
        if target != state and state != paused:
            changes.append((pk, state, target, found.describe(key).evidence if key in states else cleared))
    return monitors_transition(changes=changes, now=now)


def monitors_transition(
    *, changes: list[tuple[int, str, str, str]], now: datetime, actor: str = "check", notify: bool = True
) -> list[MonitorEvent]:
    """Apply (monitor id, expected state, new state, evidence) changes; record and notify only
    the rows this process changed."""
    events = []
    for start in range(0, len(changes), CHUNK):
        chunk = changes[start : start + CHUNK]
        with transaction.atomic():
            done = _conditional_update(chunk, now)
            batch = [
                MonitorEvent(monitor_id=pk, at=now, previous=old, state=new, evidence=evidence, actor=actor)
                for pk, old, new, evidence in chunk
                if pk in done
            ]
            MonitorEvent.objects.bulk_create(batch)
            if notify:
                alerts.deliveries_create(events=[e for e in batch if e.state != Monitor.State.PAUSED])
        events += batch
    return events


def _conditional_update(chunk: list[tuple[int, str, str, str]], now: datetime) -> set[int]:
    """One UPDATE … FROM (VALUES …) … WHERE state = expected RETURNING id, on PostgreSQL and SQLite."""
    rows = ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
    params = [value for change in chunk for value in change]
    id_cast = "::bigint" if connection.vendor == "postgresql" else ""
    sql = f"""
        WITH v(id, expected, new_state, evidence) AS (VALUES {rows})
        UPDATE ops_monitor SET state = v.new_state, evidence = v.evidence, since = %s
        FROM v WHERE ops_monitor.id = v.id{id_cast} AND ops_monitor.state = v.expected
        RETURNING ops_monitor.id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params + [now])
        return {row[0] for row in cursor.fetchall()}


def monitor_pause(*, monitor: Monitor, reason: str, actor: str) -> bool:
    """Silence a monitor; False when it was already paused."""
    now = timezone.now()
    events = monitors_transition(
        changes=[(monitor.pk, monitor.state, Monitor.State.PAUSED, f"paused: {reason}")],
        now=now,
        actor=actor,
        notify=False,
    )
    if events:
        Monitor.objects.filter(pk=monitor.pk).update(paused_reason=reason)
    return bool(events)


def monitor_resume(*, monitor: Monitor, reason: str, actor: str) -> MonitorEvent | None:
    """Evaluate the monitor's kind now and take the state it finds; notified unless it is up."""
    now = timezone.now()
    found = registry.kind_states(monitor.kind, now=now, watched={monitor.key})
    seen = monitor.key in found.states
    state = found.states[monitor.key] if seen else Monitor.State.UP
    evidence = f"resumed ({reason}): " + (
        found.describe(monitor.key).evidence if seen else registry.kind_cleared(monitor.kind)
    )
    events = monitors_transition(
        changes=[(monitor.pk, Monitor.State.PAUSED, state, evidence)],
        now=now,
        actor=actor,
        notify=state != Monitor.State.UP,
    )
    if events:
        Monitor.objects.filter(pk=monitor.pk).update(paused_reason="")
    return events[0] if events else None
