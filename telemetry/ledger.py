"""The energy ledger: readings in device-time order become entries; late readings supersede.

The rules (docs/TELEMETRY.md states them for people):
- Readings are taken in (ts, seq, id) order. `base` is the last accepted reading.
- counter >= base: an entry base->reading with delta = counter - base ("normal"; "gap" with
  lower confidence when the span exceeds TELEMETRY_GAP_SECONDS).
- counter < base and boot_id changed (both given): a reset. The entry's delta is the new
  counter (energy since the reboot counts from zero); the reading becomes the base.
- counter < base, same boot: undecided until the next reading n.
  n >= base: the low reading was a glitch (a zero entry recording it, excluded); base stays.
  otherwise n >= low reading: a reset at the low reading (the counter keeps climbing from there).
  otherwise: the low reading was a glitch and n is the new candidate.
- The ledger is append-only: new readings re-derive the entries from an anchor before them;
  entries that changed are superseded (never edited) by the newly derived ones.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from telemetry import totals
from telemetry.models import Device, LedgerEntry, RawEvent

DAY = timedelta(days=1)


@dataclass(frozen=True)
class Reading:
    id: int | None
    ts: datetime
    energy_wh: int
    boot_id: str = ""
    seq: int | None = None


@dataclass(frozen=True)
class Derived:
    start: Reading
    end: Reading
    delta_wh: int
    kind: str
    confidence: str
    reason: str

    def key(self) -> tuple:
        return (self.start.id, self.end.id, self.kind, self.delta_wh, self.confidence)


def _span_entry(base: Reading, reading: Reading, gap: timedelta) -> Derived:
    span = reading.ts - base.ts
    delta = reading.energy_wh - base.energy_wh
    if span <= gap:
        return Derived(base, reading, delta, "normal", "high", "")
    confidence = "medium" if span <= DAY else "low"
    return Derived(base, reading, delta, "gap", confidence, f"no reading for {span}: one entry spans the gap")


def _reset_entry(base: Reading, reading: Reading, why: str, gap: timedelta) -> Derived:
    confidence = "medium" if reading.ts - base.ts <= gap else "low"
    reason = f"counter fell from {base.energy_wh} to {reading.energy_wh} Wh ({why}); counts from zero"
    return Derived(base, reading, reading.energy_wh, "reset", confidence, reason)


def _glitch_entry(base: Reading, low: Reading, why: str) -> Derived:
    reason = f"single low reading {low.energy_wh} Wh below base {base.energy_wh} Wh ({why}); excluded"
    return Derived(base, low, 0, "glitch", "low", reason)


def _boot_changed(a: Reading, b: Reading) -> bool:
    return bool(a.boot_id and b.boot_id and a.boot_id != b.boot_id)


def ledger_derive(readings: list[Reading], *, gap_seconds: int) -> tuple[list[Derived], Reading | None]:
    """Entries for readings already in order, the first being an accepted base.

    Returns the entries and the trailing low reading still waiting for its next reading (or None).
    """
    gap = timedelta(seconds=gap_seconds)
    out: list[Derived] = []
    if not readings:
        return out, None
    base, pending = readings[0], None
    for reading in readings[1:]:
        if pending is not None:
            if reading.energy_wh >= base.energy_wh:
                out.append(_glitch_entry(base, pending, "the next reading returned to the base"))
            elif reading.energy_wh >= pending.energy_wh:
                out.append(_reset_entry(base, pending, "the next reading climbed from the new base", gap))
                base = pending
            else:
                out.append(_glitch_entry(base, pending, "the next reading fell further"))
            pending = None
        if reading.energy_wh >= base.energy_wh:
            out.append(_span_entry(base, reading, gap))
            base = reading
        elif _boot_changed(base, reading):
            out.append(_reset_entry(base, reading, f"boot_id {base.boot_id} -> {reading.boot_id}", gap))
            base = reading
        else:
            pending = reading
    return out, pending


@dataclass
class ProcessResult:
    devices: int = 0
    events: int = 0
    entries_created: int = 0
    entries_superseded: int = 0
    resets: int = 0
    glitches: int = 0
    days_touched: set = field(default_factory=set)


def _order(event) -> tuple:
    return (event.ts, event.seq if event.seq is not None else -1, event.id)


def _devices_with_anchor(device_ids: list[int]):
    """Each device with new readings, their earliest time t0, and the anchor to re-derive from:
    the start of the last current entry ending before t0 (one entry back, because whether a low
    reading was a glitch or a reset depends on the reading after it)."""
    first_new = RawEvent.objects.filter(device=OuterRef("pk"), processed=False).order_by("ts").values("ts")[:1]
    anchor = (LedgerEntry.objects.current().filter(device=OuterRef("pk"), end_ts__lt=OuterRef("t0"))
              .order_by("-end_ts", "-id"))
    return (Device.objects.filter(pk__in=device_ids).annotate(t0=Subquery(first_new))
            .filter(t0__isnull=False)
            .annotate(anchor_ts=Subquery(anchor.values("start_ts")[:1]), anchor_id=Subquery(anchor.values("start_event_id")[:1]))
            .values("pk", "t0", "anchor_ts", "anchor_id"))


def _window(rows, model_field: str) -> Q:
    q = Q(pk__in=[])
    for row in rows:
        part = Q(device_id=row["pk"])
        if row["anchor_ts"] is not None:
            part &= Q(**{f"{model_field}__gte": row["anchor_ts"]})
        q |= part
    return q


def ledger_process(*, device_ids: list[int] | None = None) -> ProcessResult:
    """Bring the ledger of these devices (all with unprocessed readings when None) up to date."""
    if device_ids is None:
        device_ids = list(RawEvent.objects.filter(processed=False).values_list("device_id", flat=True).distinct())
    result = ProcessResult()
    if not device_ids:
        return result
    with transaction.atomic():
        # Serialise per device: two subscribers of a shared group never derive the same device at once.
        list(Device.objects.select_for_update().filter(pk__in=device_ids).order_by("pk").values_list("pk", flat=True))
        rows = list(_devices_with_anchor(device_ids))
        if not rows:
            return result
        events = defaultdict(list)
        max_id = 0
        for event in RawEvent.objects.filter(_window(rows, "ts")).only("id", "device_id", "ts", "energy_wh", "boot_id", "seq", "processed"):
            events[event.device_id].append(event)
            max_id = max(max_id, event.id)
        current = defaultdict(list)
        for entry in LedgerEntry.objects.current().filter(_window(rows, "start_ts")):
            current[entry.device_id].append(entry)
        now = timezone.now()
        created, superseded = [], []
        for row in rows:
            new, old = _device_rederive(row, events[row["pk"]], current[row["pk"]], now)
            created += new
            superseded += old
        LedgerEntry.objects.bulk_create(created, batch_size=2000)
        _supersede(superseded, created, rows, now)
        RawEvent.objects.filter(device_id__in=[r["pk"] for r in rows], processed=False, id__lte=max_id).update(processed=True)
        result.days_touched = totals.totals_apply(created=created, superseded=superseded)
    result.devices, result.events = len(rows), sum(len(v) for v in events.values())
    result.entries_created, result.entries_superseded = len(created), len(superseded)
    result.resets = sum(1 for e in created if e.kind == "reset")
    result.glitches = sum(1 for e in created if e.kind == "glitch")
    return result


def _device_rederive(row: dict, events: list, current: list, now) -> tuple[list, list]:
    events.sort(key=_order)
    if row["anchor_id"] is not None:
        start = next((i for i, e in enumerate(events) if e.id == row["anchor_id"]), 0)
        events = events[start:]
    readings = [Reading(e.id, e.ts, e.energy_wh, e.boot_id, e.seq) for e in events]
    derived, _pending = ledger_derive(readings, gap_seconds=settings.TELEMETRY_GAP_SECONDS)
    existing = {(e.start_event_id, e.end_event_id, e.kind, e.delta_wh, e.confidence): e for e in current}
    wanted = {d.key() for d in derived}
    new = [
        LedgerEntry(device_id=row["pk"], start_event_id=d.start.id, end_event_id=d.end.id, start_ts=d.start.ts,
                    end_ts=d.end.ts, start_wh=d.start.energy_wh, end_wh=d.end.energy_wh, delta_wh=d.delta_wh,
                    kind=d.kind, confidence=d.confidence, reason=d.reason, created_at=now)
        for d in derived if d.key() not in existing
    ]
    old = [e for key, e in existing.items() if key not in wanted]
    return new, old


def _supersede(old: list[LedgerEntry], created: list[LedgerEntry], rows: list[dict], now) -> None:
    if not old:
        return
    first_new = {}
    for entry in created:
        first_new.setdefault(entry.device_id, entry.pk)
    t0 = {row["pk"]: row["t0"] for row in rows}
    for entry in old:
        entry.superseded_at = now
        entry.superseded_by_id = first_new.get(entry.device_id)
        entry.superseded_reason = f"re-derived after a late reading (device time {t0[entry.device_id]:%Y-%m-%d %H:%M:%S%z})"
    LedgerEntry.objects.bulk_update(old, ["superseded_at", "superseded_by", "superseded_reason"], batch_size=2000)


def ledger_rebuild(*, device: Device) -> ProcessResult:
    """Re-derive a device's whole ledger (after a fix to the rules); unchanged entries stay."""
    RawEvent.objects.filter(device=device).update(processed=False)
    return ledger_process(device_ids=[device.pk])
