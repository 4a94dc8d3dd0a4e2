"""Heartbeats of long-running processes that are not q2 tasks (the MQTT subscriber), so a
monitor can tell "connected and quiet" from "not running" and "cut off from the broker".

Called from the process's own threads (paho's network thread among them): a heartbeat must never
take the process down, so a database error is logged and the beat skipped.
"""

import logging
import time
from datetime import datetime

from django.db import close_old_connections, connection
from django.utils import timezone

log = logging.getLogger(__name__)
SUBSCRIBER = "mqtt-subscriber"
BEAT_SECONDS = 60
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


def heartbeat_read(*, name: str):
    from ops.models import Heartbeat

    return Heartbeat.objects.filter(name=name).first()
