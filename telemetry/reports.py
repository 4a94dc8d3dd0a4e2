"""Read-side queries shared by the JSON API and the staff pages."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Sum
from django.utils import timezone

from telemetry import totals
from telemetry.models import AggregationRun, DailyTotal, Device, LedgerEntry, Location, MalformedMessage, RawEvent

THOUSAND = Decimal(1000)
STALE_UNPROCESSED = timedelta(minutes=5)


def health_snapshot(now: datetime | None = None, *, totals_too: bool = True) -> dict:
    """The /api/power-analytics/health contract. Each figure is its own index-backed query (one
    aggregate with FILTERs would scan every raw event); `totals_too=False` skips the two counts
    over whole tables, for the page that refreshes every few seconds."""
    now = now or timezone.now()
    unprocessed = RawEvent.objects.filter(processed=False)
    pending = unprocessed.count()
    total = RawEvent.objects.count() if totals_too else None
    run = AggregationRun.objects.first()
    return {
        "status": "degraded" if unprocessed.filter(received_at__lt=now - STALE_UNPROCESSED).exists() else "ok",
        "telemetry": {"total_events": total, "unprocessed_events": pending,
                      "events_last_hour": RawEvent.objects.filter(received_at__gte=now - timedelta(hours=1)).count(),
                      "online_devices": Device.objects.filter(status="online").count()},
        "ledger": {"events_processed": total - pending if totals_too else None,
                   "entries_created": LedgerEntry.objects.count() if totals_too else None,
                   "resets_detected": LedgerEntry.objects.current().filter(kind="reset").count() if totals_too else None,
                   "errors": MalformedMessage.objects.count(), "is_processing": pending > 0},
        "aggregation": {"last_run": run.finished_at.isoformat() if run and run.finished_at else None, "last_run_id": run.pk if run else None},
        "timestamp": now.isoformat(),
    }


def readings_per_device(since: datetime) -> dict[int, int]:
    """Readings received since `since`, per device (from the received_at index)."""
    rows = RawEvent.objects.filter(received_at__gte=since).values("device_id").annotate(n=Count("id")).order_by()
    return {row["device_id"]: row["n"] for row in rows}


@dataclass(frozen=True)
class DayRow:
    day: date
    wh: int
    cost: Decimal

    @property
    def kwh(self) -> float:
        return self.wh / 1000


def daily_rows(*, devices, first: date, last: date) -> list[DayRow]:
    """One row per local day first..last (zero days included) over the given devices."""
    sums = {r["day"]: r for r in DailyTotal.objects.filter(device__in=devices, day__gte=first, day__lte=last)
            .values("day").annotate(wh=Sum("wh"), cost=Sum("cost"))}
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [DayRow(d, sums[d]["wh"] if d in sums else 0, sums[d]["cost"] if d in sums else Decimal(0)) for d in days]


def location_summary(*, location: Location, day: date) -> dict:
    rows = (DailyTotal.objects.filter(device__location=location, day=day).select_related("device").order_by("device__name"))
    devices = [{"device": t.device.name, "kwh": str(Decimal(t.wh) / THOUSAND), "cost": str(t.cost)} for t in rows]
    wh = sum(t.wh for t in rows)
    return {"classroom": location.name, "date": day.isoformat(), "timezone": totals.local_zone().key,
            "total_kwh": str(Decimal(wh) / THOUSAND), "total_cost": str(sum((t.cost for t in rows), Decimal(0))), "devices": devices}


def location_timeline(*, location: Location, start: datetime, end: datetime, device: Device | None = None) -> dict:
    """Per device: current ledger entries (energy) and readings with power, in the window."""
    devices = [device] if device else list(location.devices.all())
    out = []
    for dev in devices:
        entries = (LedgerEntry.objects.current().filter(device=dev, end_ts__gt=start, start_ts__lt=end)
                   .order_by("end_ts", "id")[:5000])
        readings = RawEvent.objects.filter(device=dev, ts__gte=start, ts__lt=end).order_by("ts")[:5000]
        out.append({
            "device": dev.name,
            "entries": [{"start": e.start_ts.isoformat(), "end": e.end_ts.isoformat(), "delta_wh": e.delta_wh, "kind": e.kind,
                         "confidence": e.confidence, "reason": e.reason} for e in entries],
            "readings": [{"ts": r.ts.isoformat(), "energy_wh_total": r.energy_wh, "power_w": r.power_w} for r in readings],
        })
    return {"classroom": location.name, "start": start.isoformat(), "end": end.isoformat(), "devices": out}
