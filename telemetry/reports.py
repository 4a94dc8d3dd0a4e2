"""Read-side queries shared by the JSON API and the staff pages."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils import timezone

from telemetry import totals
from telemetry.models import AggregationRun, DailyTotal, Device, LedgerEntry, Location, MalformedMessage, RawEvent

THOUSAND = Decimal(1000)
STALE_UNPROCESSED = timedelta(minutes=5)


def health_snapshot(now: datetime | None = None) -> dict:
    """The /api/power-analytics/health contract."""
    now = now or timezone.now()
    events = RawEvent.objects.aggregate(
        total=Count("id"), unprocessed=Count("id", filter=Q(processed=False)),
        last_hour=Count("id", filter=Q(received_at__gte=now - timedelta(hours=1))),
        stale=Count("id", filter=Q(processed=False, received_at__lt=now - STALE_UNPROCESSED)),
    )
    entries = LedgerEntry.objects.aggregate(total=Count("id"), resets=Count("id", filter=Q(kind="reset", superseded_at__isnull=True)))
    run = AggregationRun.objects.first()
    return {
        "status": "degraded" if events["stale"] else "ok",
        "telemetry": {"total_events": events["total"], "unprocessed_events": events["unprocessed"],
                      "events_last_hour": events["last_hour"], "online_devices": Device.objects.filter(status="online").count()},
        "ledger": {"events_processed": events["total"] - events["unprocessed"], "entries_created": entries["total"],
                   "resets_detected": entries["resets"], "errors": MalformedMessage.objects.count(),
                   "is_processing": events["unprocessed"] > 0},
        "aggregation": {"last_run": run.finished_at.isoformat() if run and run.finished_at else None, "last_run_id": run.pk if run else None},
        "timestamp": now.isoformat(),
    }


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
