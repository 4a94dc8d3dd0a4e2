"""Read-side queries shared by the JSON API and the staff pages."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Sum
from django.utils import timezone

from telemetry import totals
from telemetry.models import AggregationRun, DailyTotal, Device, LedgerEntry, Location, MalformedMessage, RawEvent, Stay

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
        "telemetry": {
            "total_events": total,
            "unprocessed_events": pending,
            "events_last_hour": RawEvent.objects.filter(received_at__gte=now - timedelta(hours=1)).count(),
            "online_devices": Device.objects.filter(status="online").count(),
        },
        "ledger": {
            "events_processed": total - pending if totals_too else None,
            "entries_created": LedgerEntry.objects.count() if totals_too else None,
            "resets_detected": LedgerEntry.objects.current().filter(kind="reset").count() if totals_too else None,
            "errors": MalformedMessage.objects.count(),
            "is_processing": pending > 0,
        },
        "aggregation": {
            "last_run": run.finished_at.isoformat() if run and run.finished_at else None,
            "last_run_id": run.pk if run else None,
        },
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


def daily_rows(*, location: Location, first: date, last: date, device: Device | None = None) -> list[DayRow]:
    """One row per local day first..last (zero days included): the devices assigned to the
    location on each day (or the one device, on the days it was there)."""
    rows = DailyTotal.objects.at_location(location).filter(day__gte=first, day__lte=last)
    if device is not None:
        rows = rows.filter(device=device)
    sums = {r["day"]: r for r in rows.values("day").annotate(wh=Sum("wh"), cost=Sum("cost"))}
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [DayRow(d, sums[d]["wh"] if d in sums else 0, sums[d]["cost"] if d in sums else Decimal(0)) for d in days]


def location_wh_since(since: date) -> dict[int, int]:
    """Wh per location from the local day `since` on, each day counted where its device was."""
    rows = (
        DailyTotal.objects.placed()
        .filter(day__gte=since, placed_id__isnull=False)
        .values("placed_id")
        .annotate(wh=Sum("wh"))
    )
    return {r["placed_id"]: r["wh"] for r in rows}


def stay_wh(*, stay: Stay, first: date, last: date) -> int:
    """Wh of the stay's device on its days at the location within first..last."""
    lo, hi = stay.clip(first, last)
    return DailyTotal.objects.filter(device=stay.device, day__gte=lo, day__lte=hi).aggregate(wh=Sum("wh"))["wh"] or 0


def location_summary(*, location: Location, day: date) -> dict:
    """The devices assigned to the location on the local day, with their totals that day."""
    rows = DailyTotal.objects.at_location(location).filter(day=day).select_related("device").order_by("device__name")
    devices = [{"device": t.device.name, "kwh": str(Decimal(t.wh) / THOUSAND), "cost": str(t.cost)} for t in rows]
    wh = sum(t.wh for t in rows)
    return {
        "classroom": location.name,
        "date": day.isoformat(),
        "timezone": totals.local_zone().key,
        "total_kwh": str(Decimal(wh) / THOUSAND),
        "total_cost": str(sum((t.cost for t in rows), Decimal(0))),
        "devices": devices,
    }


def stay_window(stay: Stay, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """start..end cut to the instants the stay covers (its local days), in start's zone."""
    lo = max(start, totals.day_bounds(stay.first)[0]) if stay.first else start
    hi = min(end, totals.day_bounds(stay.until)[0]) if stay.until else end
    return lo.astimezone(start.tzinfo), hi.astimezone(start.tzinfo)


@dataclass(frozen=True)
class DeviceDayTimeline:
    device: Device
    points: list[tuple[datetime, float | None, float]]  # (reading time, power W, kWh since local midnight)
    kwh: float
    readings: int


def device_day_timelines(*, devices: list[Device], day: date) -> list[DeviceDayTimeline]:
    """Per device, the local day's energy from the current ledger, with each entry's reading
    power beside it (for the location page's chart; at most 5,000 of each per device)."""
    start, end = totals.day_bounds(day)
    out = []
    for device in devices:
        readings = list(
            RawEvent.objects.filter(device=device, ts__gte=start, ts__lt=end)
            .order_by("ts")
            .values_list("ts", "power_w")[:5000]
        )
        entries = list(
            LedgerEntry.objects.current()
            .filter(device=device, end_ts__gt=start, end_ts__lte=end)
            .exclude(delta_wh=0)
            .order_by("end_ts")
            .values_list("end_ts", "delta_wh")[:5000]
        )
        points, energy = [], 0
        power = dict(readings)
        for ts, delta in entries:
            energy += delta
            points.append((ts, power.get(ts), energy / 1000))
        out.append(DeviceDayTimeline(device=device, points=points, kwh=energy / 1000, readings=len(readings)))
    return out


def location_timeline(*, location: Location, start: datetime, end: datetime) -> dict:
    """Per device that was in the location during the window: current ledger entries (energy)
    and readings with power, within the part of the window it was there (`from`..`until`)."""
    out = []
    for stay in location.stays(totals.local_day(start), totals.local_day(end - timedelta(microseconds=1))):
        lo, hi = stay_window(stay, start, end)
        entries = (
            LedgerEntry.objects.current()
            .filter(device=stay.device, end_ts__gt=lo, start_ts__lt=hi)
            .order_by("end_ts", "id")[:5000]
        )
        readings = RawEvent.objects.filter(device=stay.device, ts__gte=lo, ts__lt=hi).order_by("ts")[:5000]
        out.append(
            {
                "device": stay.device.name,
                "from": lo.isoformat(),
                "until": hi.isoformat(),
                "entries": [
                    {
                        "start": e.start_ts.isoformat(),
                        "end": e.end_ts.isoformat(),
                        "delta_wh": e.delta_wh,
                        "kind": e.kind,
                        "confidence": e.confidence,
                        "reason": e.reason,
                    }
                    for e in entries
                ],
                "readings": [
                    {"ts": r.ts.isoformat(), "energy_wh_total": r.energy_wh, "power_w": r.power_w} for r in readings
                ],
            }
        )
    return {"classroom": location.name, "start": start.isoformat(), "end": end.isoformat(), "devices": out}
