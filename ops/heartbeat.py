"""Heartbeats of long-running processes that are not q2 tasks (the MQTT subscriber), so a
monitor can tell "connected and quiet" from "not running" and "cut off from the broker".

Processes that run several at once (subscribers in a shared MQTT group) beat one row each,
`<family>:<member>`, so one stopping does not write "disconnected" over the others' "connected";
the monitor reads the family's rows together (heartbeats_read, ops.evaluate.heartbeats_judge).

Called from the process's own threads (paho's network thread among them): a heartbeat must never
take the process down, so a database error is logged and the beat skipped.
"""

import logging
import time
from datetime import datetime, timedelta

from django.db import close_old_connections, connection
from django.db.models import Q
from django.utils import timezone

log = logging.getLogger(__name__)
SUBSCRIBER = "mqtt-subscriber"
BEAT_SECONDS = 60
# Three missed beats: the process is gone (killed, crashed, its host down) without a word.
FRESH = timedelta(seconds=3 * BEAT_SECONDS)
# A member not heard for this long is forgotten: scaled down, renamed, or reported for a day already.
FORGET = timedelta(hours=24)
# The detail of the last beat of a process that stopped on purpose (SIGTERM), not an outage by itself.
STOPPED = "stopped"
_last_beat: dict[str, float] = {}


def heartbeat_beat(*, name: str, connected: bool, detail: str = "", now: datetime | None = None) -> None:
    """Record that `name` is alive, and whether it is connected; `since` moves only when that changes."""
    from ops.models import Heartbeat

    now = now or timezone.now()
    try:
        if not connection.in_atomic_block:  # inside a transaction (a caller's, a test's) the connection is in use
            close_old_connections()  # a long-lived thread's connection may have been dropped while idle
        beat, created = Heartbeat.objects.get_or_create(
            name=name, defaults={"at": now, "since": now, "connected": connected, "detail": detail[:300]}
        )
        if not created:
            changed = beat.connected != connected
            Heartbeat.objects.filter(name=name).update(
                at=now,
                connected=connected,
                since=now if changed else beat.since,
                detail=detail[:300] if changed or detail else beat.detail,
            )
        _last_beat[name] = time.monotonic()
    except Exception:  # noqa: BLE001 - liveness reporting must not stop the process it reports on
        log.warning("heartbeat %s not recorded", name, exc_info=True)


def heartbeat_beat_due(*, name: str, connected: bool) -> None:
    """From a process's main loop: a beat at most every BEAT_SECONDS."""
    if time.monotonic() - _last_beat.get(name, 0.0) >= BEAT_SECONDS:
        heartbeat_beat(name=name, connected=connected)


def heartbeat_member_name(*, family: str, member: str) -> str:
    """The row of one process of a family that runs several at once, e.g. one subscriber of a
    shared group by its MQTT client id (unique among the group's members, stable across restarts)."""
    return f"{family}:{member}"


def heartbeats_read(*, family: str, now: datetime) -> list:
    """The family's rows, the bare `family` (one process alone) and `family:<member>`, by name;
    rows not written for FORGET are left out."""
    from ops.models import Heartbeat

    return list(Heartbeat.objects.filter(_family(family), at__gte=now - FORGET).order_by("name"))


def heartbeats_prune(*, family: str, now: datetime | None = None) -> int:
    """Delete the family's rows not written for FORGET; returns how many."""
    from ops.models import Heartbeat

    deleted, _ = Heartbeat.objects.filter(_family(family), at__lt=(now or timezone.now()) - FORGET).delete()
    return deleted


def _family(family: str) -> Q:
    return Q(name=family) | Q(name__startswith=f"{family}:")
