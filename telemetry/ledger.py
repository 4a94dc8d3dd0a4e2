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
- counter > base by more than TELEMETRY_MAX_POWER_W could draw in the time between them (both
  readings with device time: arrival stamps say nothing of it): a high reading, undecided until
  the next reading n. n climbs plausibly from it: the counter jumped (a glitch entry carrying no
  consumption records the step; the high reading becomes the base).
  Otherwise the high reading was a single spike: a glitch entry excludes it and base stays.
- The ledger is append-only: new readings re-derive the entries from an anchor before them;
  entries that changed are superseded (never edited) by the newly derived ones.
"""

# One module, ~350 lines: the derivation rules and the windowed re-derivation that applies them change together (docs/TELEMETRY.md).

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from telemetry import bulk, totals
from telemetry.models import Device, LedgerEntry, RawEvent

DAY = timedelta(days=1)


class Reading(NamedTuple):
    """One raw event as the rules see it (ledger.Event has the same fields and is used as one)."""

    id: int | None
    ts: datetime
    energy_wh: int
    boot_id: str = ""
    seq: int | None = None
    received_at: datetime | None = None


class Derived(NamedTuple):
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


def _arrival_stamped(reading: Reading) -> bool:
    """A reading without a device time is stored under the moment it arrived (ts == received_at)."""
    return reading.received_at is not None and reading.ts == reading.received_at


def _implausible(base: Reading, reading: Reading, max_power_w: float | None) -> bool:
    """More energy than max_power_w could deliver between the two readings (Wh * 3600 = W * s).
    Only between device times: a broker delivers a backlog (a persistent session after a
    subscriber restart) in one burst, so readings stamped on arrival can be microseconds apart
    however far apart they were measured, and their spacing says nothing about power."""
    if max_power_w is None or _arrival_stamped(base) or _arrival_stamped(reading):
        return False
    return (reading.energy_wh - base.energy_wh) * 3600 > max_power_w * (reading.ts - base.ts).total_seconds()


def _step_glitch_entry(base: Reading, high: Reading, max_power_w: float, why: str) -> Derived:
    reason = (
        f"counter rose {high.energy_wh - base.energy_wh} Wh in {high.ts - base.ts}, more than {max_power_w:g} W "
        f"could draw ({why}); not counted"
    )
    return Derived(base, high, 0, "glitch", "low", reason)


def _boot_changed(a: Reading, b: Reading) -> bool:
    return bool(a.boot_id and b.boot_id and a.boot_id != b.boot_id)


def ledger_derive(
    readings: list[Reading], *, gap_seconds: int, max_power_w: float | None = None
) -> tuple[list[Derived], Reading | None]:
    """Entries for readings already in order, the first being an accepted base. Readings are
    anything with Reading's fields (the stored events are passed as they were read). Steps
    implying more than `max_power_w` are glitches (None: no power check).

    Returns the entries and the trailing low or high reading still waiting for its next reading (or None).
    """
    gap = timedelta(seconds=gap_seconds)
    out: list[Derived] = []
    if not readings:
        return out, None
    base, pending, high = readings[0], None, None
    for reading in readings[1:]:
        if high is not None:
            if reading.energy_wh >= high.energy_wh and not _implausible(high, reading, max_power_w):
                out.append(_step_glitch_entry(base, high, max_power_w, "the counter went on from there"))
                base = high
            else:
                out.append(
                    _step_glitch_entry(base, high, max_power_w, "a single spike: the next reading did not follow it")
                )
            high = None
        if pending is not None:
            if reading.energy_wh >= base.energy_wh:
                out.append(_glitch_entry(base, pending, "the next reading returned to the base"))
            elif reading.energy_wh >= pending.energy_wh:
                out.append(_reset_entry(base, pending, "the next reading climbed from the new base", gap))
                base = pending
            else:
                out.append(_glitch_entry(base, pending, "the next reading fell further"))
            pending = None
        if reading.energy_wh >= base.energy_wh and _implausible(base, reading, max_power_w):
            high = reading
        elif reading.energy_wh >= base.energy_wh:
            out.append(_span_entry(base, reading, gap))
            base = reading
        elif _boot_changed(base, reading):
            out.append(_reset_entry(base, reading, f"boot_id {base.boot_id} -> {reading.boot_id}", gap))
            base = reading
        else:
            pending = reading
    return out, pending or high


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


class Event(NamedTuple):
    id: int
    device_id: int
    ts: datetime
    energy_wh: int
    boot_id: str
    seq: int | None
    received_at: datetime


class Current(NamedTuple):
    id: int
    device_id: int
    start_event_id: int | None
    end_event_id: int | None
    kind: str
    delta_wh: int
    confidence: str
    start_ts: datetime
    end_ts: datetime


EVENT_FIELDS, CURRENT_FIELDS = Event._fields, Current._fields


def _devices_with_anchor(device_ids: list[int]) -> list[dict]:
    """Each device with unprocessed readings, their earliest time t0, and the anchor to re-derive
    from (see _anchors)."""
    if bulk.is_postgres():
        sql = (
            f"SELECT d.id, (SELECT e.ts FROM {RawEvent._meta.db_table} e WHERE e.device_id = d.id AND NOT e.processed "
            "ORDER BY e.ts LIMIT 1) FROM unnest(%s::bigint[]) AS d(id)"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [bulk.array_literal(device_ids)])
            return _anchors({device_id: t0 for device_id, t0 in cursor.fetchall() if t0 is not None})
    first_new = RawEvent.objects.filter(device=OuterRef("pk"), processed=False).order_by("ts").values("ts")[:1]
    anchor = (
        LedgerEntry.objects.current()
        .filter(device=OuterRef("pk"), end_ts__lt=OuterRef("t0"))
        .order_by("-end_ts", "-id")
    )
    return list(
        Device.objects.filter(pk__in=device_ids)
        .annotate(t0=Subquery(first_new))
        .filter(t0__isnull=False)
        .annotate(
            anchor_ts=Subquery(anchor.values("start_ts")[:1]), anchor_id=Subquery(anchor.values("start_event_id")[:1])
        )
        .values("pk", "t0", "anchor_ts", "anchor_id")
    )


def _anchors(first_new: dict[int, datetime]) -> list[dict]:
    """For each device and the time t0 of its earliest new reading, the anchor to re-derive from:
    the start of the last current entry ending before t0 (one entry back, because whether a low
    reading was a glitch or a reset depends on the reading after it). One lateral query on
    PostgreSQL."""
    if not first_new:
        return []
    sql = f"""
        SELECT t.id, t.t0, a.start_ts, a.start_event_id FROM unnest(%s::bigint[], %s::timestamptz[]) AS t(id, t0)
        LEFT JOIN LATERAL (
            SELECT l.start_ts, l.start_event_id FROM {LedgerEntry._meta.db_table} l
            WHERE l.device_id = t.id AND l.superseded_at IS NULL AND l.end_ts < t.t0
            ORDER BY l.end_ts DESC, l.id DESC LIMIT 1) a ON true"""
    with bulk.reading_cursor() as cursor:
        cursor.execute(sql, bulk.columns(list(first_new.items()), 2))
        return [{"pk": r[0], "t0": r[1], "anchor_ts": r[2], "anchor_id": r[3]} for r in cursor.fetchall()]


def _window_pg(table: str, fields: tuple, field: str, rows: list[dict], extra: str = "") -> list[tuple]:
    """Rows of each device at or after its anchor: one join against the (device, time) index."""
    sql = (
        f"SELECT {', '.join('x.' + f for f in fields)} FROM {table} x "
        f"JOIN unnest(%s::bigint[], %s::timestamptz[]) AS w(device_id, since) ON x.device_id = w.device_id "
        f"AND (w.since IS NULL OR x.{field} >= w.since) {extra}"
    )
    with bulk.reading_cursor() as cursor:
        cursor.execute(sql, bulk.columns([(r["pk"], r["anchor_ts"]) for r in rows], 2))
        return cursor.fetchall()


def _events_window(rows: list[dict]) -> list[Event]:
    if bulk.is_postgres():
        return [Event(*r) for r in _window_pg(RawEvent._meta.db_table, EVENT_FIELDS, "ts", rows)]
    return [Event(*r) for r in _window_rows(RawEvent.objects.values_list(*EVENT_FIELDS), rows, "ts", 2)]


def _current_window(rows: list[dict]) -> list[Current]:
    if bulk.is_postgres():
        found = _window_pg(
            LedgerEntry._meta.db_table, CURRENT_FIELDS, "start_ts", rows, "WHERE x.superseded_at IS NULL"
        )
    else:
        found = _window_rows(LedgerEntry.objects.current().values_list(*CURRENT_FIELDS), rows, "start_ts", 7)
    return [Current(*r) for r in found]


def _window_rows(queryset, rows: list[dict], field: str, index: int) -> list:
    """The same without PostgreSQL: one query per device (the embedded set-up is small)."""
    out = []
    for row in rows:
        found = queryset.filter(device_id=row["pk"])
        if row["anchor_ts"] is not None:
            found = found.filter(**{f"{field}__gte": row["anchor_ts"]})
        out += list(found)
    return out


def devices_lock(device_ids: list[int]) -> None:
    """Row locks on these devices, in id order (so two subscribers never deadlock)."""
    if bulk.is_postgres():
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id FROM {Device._meta.db_table} WHERE id = ANY(%s::bigint[]) ORDER BY id FOR UPDATE",
                [bulk.array_literal(device_ids)],
            )
    else:
        list(Device.objects.select_for_update().filter(pk__in=device_ids).order_by("pk").values_list("pk", flat=True))


def ledger_process(*, device_ids: list[int] | None = None) -> ProcessResult:
    """Bring the ledger of these devices (all with unprocessed readings when None) up to date."""
    if device_ids is None:
        device_ids = list(RawEvent.objects.filter(processed=False).values_list("device_id", flat=True).distinct())
    if not device_ids:
        return ProcessResult()
    with transaction.atomic(savepoint=False):
        # Serialise per device: two subscribers of a shared group never derive the same device at once.
        devices_lock(sorted(device_ids))
        return _rederive(_devices_with_anchor(device_ids), mark_processed=True)


def ledger_extend(*, first_new: dict[int, datetime]) -> ProcessResult:
    """The ledger after new readings were stored, already marked processed, in the caller's
    transaction, which holds the devices' locks: `first_new` is each device's earliest new
    reading time (PostgreSQL; the ingest path)."""
    with transaction.atomic(savepoint=False):
        return _rederive(_anchors(first_new), mark_processed=False)


def _rederive(rows: list[dict], *, mark_processed: bool) -> ProcessResult:
    result = ProcessResult()
    if not rows:
        return result
    events = defaultdict(list)
    max_id = 0
    for event in _events_window(rows):
        events[event.device_id].append(event)
        max_id = max(max_id, event.id)
    current = defaultdict(list)
    for entry in _current_window(rows):
        current[entry.device_id].append(entry)
    now = timezone.now()
    created, superseded = [], []
    for row in rows:
        new, old = _device_rederive(row, events[row["pk"]], current[row["pk"]], now)
        created += new
        superseded += old
    ids = _entries_insert(created)
    _supersede(superseded, created, ids, rows, now)
    if mark_processed:
        _events_mark_processed([r["pk"] for r in rows], max_id)
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
    derived, _pending = ledger_derive(
        events, gap_seconds=settings.TELEMETRY_GAP_SECONDS, max_power_w=settings.TELEMETRY_MAX_POWER_W
    )
    existing = {(e.start_event_id, e.end_event_id, e.kind, e.delta_wh, e.confidence): e for e in current}
    wanted = {d.key() for d in derived}
    new = [
        NewEntry(
            row["pk"],
            d.start.id,
            d.end.id,
            d.start.ts,
            d.end.ts,
            d.start.energy_wh,
            d.end.energy_wh,
            d.delta_wh,
            d.kind,
            d.confidence,
            d.reason,
            now,
            "",
        )
        for d in derived
        if d.key() not in existing
    ]
    old = [e for key, e in existing.items() if key not in wanted]
    return new, old


class NewEntry(NamedTuple):
    """An entry to insert (a plain tuple: thousands a second, model instances cost too much)."""

    device_id: int
    start_event_id: int | None
    end_event_id: int | None
    start_ts: datetime
    end_ts: datetime
    start_wh: int
    end_wh: int
    delta_wh: int
    kind: str
    confidence: str
    reason: str
    created_at: datetime
    superseded_reason: str


ENTRY_CASTS = (
    "bigint",
    "bigint",
    "bigint",
    "timestamptz",
    "timestamptz",
    "bigint",
    "bigint",
    "bigint",
    "varchar",
    "varchar",
    "varchar",
    "timestamptz",
    "varchar",
)


def _entries_insert(entries: list[NewEntry]) -> list[int]:
    """Insert; returns the new ids in the same order (PostgreSQL: one unnest statement)."""
    if not entries:
        return []
    if not bulk.is_postgres():
        made = LedgerEntry.objects.bulk_create([LedgerEntry(**e._asdict()) for e in entries], batch_size=500)
        return [entry.pk for entry in made]
    sql = f"INSERT INTO {LedgerEntry._meta.db_table} ({', '.join(NewEntry._fields)}) {{rows}} RETURNING id"
    # Rows from unnest() are inserted, and ids drawn, in array order.
    return [pk for (pk,) in bulk.execute(sql, entries, ENTRY_CASTS, returning=True)]


def _events_mark_processed(device_ids: list[int], max_id: int) -> None:
    if bulk.is_postgres():
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {RawEvent._meta.db_table} SET processed = true "
                "WHERE device_id = ANY(%s::bigint[]) AND processed = false AND id <= %s",
                [bulk.array_literal(device_ids), max_id],
            )
        return
    RawEvent.objects.filter(device_id__in=device_ids, processed=False, id__lte=max_id).update(processed=True)


def _supersede(old: list[Current], created: list[NewEntry], ids: list[int], rows: list[dict], now) -> None:
    if not old:
        return
    first_new = {}
    for entry, pk in zip(created, ids, strict=True):
        first_new.setdefault(entry.device_id, pk)
    t0 = {row["pk"]: row["t0"] for row in rows}
    by_device = defaultdict(list)
    for entry in old:
        by_device[entry.device_id].append(entry.id)
    for device_id, ids in by_device.items():
        reason = f"re-derived after a late reading (device time {t0[device_id]:%Y-%m-%d %H:%M:%S%z})"
        LedgerEntry.objects.filter(pk__in=ids).update(
            superseded_at=now, superseded_by_id=first_new.get(device_id), superseded_reason=reason
        )
