"""Telemetry's monitor kinds and metrics, registered with ops (ops.registry): each device, the
MQTT subscriber process, open reconciliation tickets."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Max, Min, Q
from prometheus_client.core import GaugeMetricFamily

from ops.evaluate import ago, by_age, heartbeats_judge, when
from ops.heartbeat import SUBSCRIBER, heartbeats_read
from ops.metrics import estimated_rows, gauge
from ops.models import Monitor
from ops.registry import Observed, register_kind, register_metrics
from telemetry.models import Device, MalformedMessage, RawEvent, ReviewTicket

State = Monitor.State


def devices(*, now: datetime, watched: set[str]) -> dict[str, Observed]:
    """Late when silent past TELEMETRY_SILENT_MINUTES, down after four times that."""
    late = timedelta(minutes=settings.TELEMETRY_SILENT_MINUTES)
    result = {}
    for pk, name, seen, created in Device.objects.values_list("pk", "name", "last_seen_at", "created_at"):
        heard = seen or created
        evidence = (
            f"last heard {when(seen)}, {ago(now, seen)}" if seen else "never heard"
        ) + f"; threshold {settings.TELEMETRY_SILENT_MINUTES} min"
        result[str(pk)] = Observed(name, by_age(now - heard, late, 4 * late), evidence)
    return result


def subscriber(*, now: datetime, watched: set[str]) -> dict[str, Observed]:
    """The subscriber processes together, from their heartbeats (each writes its own row on
    connect, on disconnect and every minute; ops.evaluate.heartbeats_judge): down when none is
    connected for TELEMETRY_SUBSCRIBER_LATE_MINUTES or none beats at all; late when a member of a
    shared group is cut off or silent, or when connected but no message at all (reading,
    heartbeat or malformed) arrived for TELEMETRY_SUBSCRIBER_LATE_MINUTES."""
    if not settings.MQTT_URL:
        return {}
    late = timedelta(minutes=settings.TELEMETRY_SUBSCRIBER_LATE_MINUTES)
    beats = heartbeats_read(family=SUBSCRIBER, now=now)
    alive, members = "", State.UP
    if beats:
        group = heartbeats_judge(beats=beats, now=now, late=late, noun="subscriber")
        if not group.connected:
            running = "" if group.beating else ": the subscriber is not running (manage.py telemetry_subscribe)"
            return {"mqtt": Observed("MQTT subscriber", group.state, group.evidence + running)}
        alive, members = group.evidence + "; ", group.state
    heard = [
        t
        for t in (
            Device.objects.aggregate(t=Max("last_seen_at"))["t"],
            MalformedMessage.objects.aggregate(t=Max("received_at"))["t"],
        )
        if t
    ]
    if not heard:
        return {"mqtt": Observed("MQTT subscriber", State.LATE, alive + "no message stored yet")}
    last = max(heard)
    evidence = (
        f"newest message {when(last)}, {ago(now, last)}; threshold {settings.TELEMETRY_SUBSCRIBER_LATE_MINUTES} min"
    )
    # A live, connected process that hears nothing is late at most: the devices' own monitors say which are silent.
    state = by_age(now - last, late, 3 * late) if not alive else State.LATE if now - last > late else members
    return {"mqtt": Observed("MQTT subscriber", state, alive + evidence)}


def tickets(*, now: datetime, watched: set[str]) -> dict[str, Observed]:
    """Late while reconciliation tickets are open; down once one has waited a day."""
    found = ReviewTicket.objects.filter(status=ReviewTicket.Status.OPEN).aggregate(
        n=Count("pk"), oldest=Min("created_at")
    )
    if not found["n"]:
        return {}
    state = by_age(now - found["oldest"], timedelta(0), timedelta(hours=24))
    return {
        "open": Observed(
            "Reconciliation tickets", state, f"{found['n']} open ticket(s), oldest opened {when(found['oldest'])}"
        )
    }


def telemetry_metrics(now: datetime) -> list[GaugeMetricFamily]:
    silent = now - timedelta(minutes=settings.TELEMETRY_SILENT_MINUTES)
    heard = Device.objects.aggregate(all=Count("pk"), silent=Count("pk", filter=~Q(last_seen_at__gte=silent)))
    return [
        gauge(
            "wattledger_devices",
            "Telemetry devices by health",
            [(("silent",), heard["silent"]), (("online",), heard["all"] - heard["silent"])],
            ["health"],
        ),
        gauge(
            "wattledger_telemetry_messages_stored",
            "Telemetry readings stored (estimate on PostgreSQL)",
            [((), estimated_rows(RawEvent._meta.db_table))],
        ),
        gauge(
            "wattledger_telemetry_messages_malformed",
            "Telemetry messages kept as malformed",
            [((), MalformedMessage.objects.count())],
        ),
    ]


register_kind(Monitor.Kind.DEVICE, devices)
register_kind(Monitor.Kind.SUBSCRIBER, subscriber)
register_kind(Monitor.Kind.TICKETS, tickets, cleared="no open tickets")
register_metrics(telemetry_metrics)
