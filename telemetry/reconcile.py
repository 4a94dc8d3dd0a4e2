"""Nightly reconciliation: every mismatch between readings, ledger and totals opens a review
ticket; and retention of raw events (the ledger and totals stay)."""

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from telemetry import bulk, partitions, totals
from telemetry.models import AggregationRun, DailyTotal, Device, LedgerEntry, RawEvent, ReviewTicket

UNPROCESSED_AFTER = timedelta(minutes=10)
SILENT_AFTER = timedelta(hours=24)
RECONCILE_HOUR = 2  # local time: after the day's late readings, before anyone looks at the tickets
# What staff may do to a ticket: the status it leads to, from the statuses it may start in.
# Tickets only move forward: a resolved ticket brought back would be a second unresolved ticket
# for a problem the nightly run may have opened again since (ticket_once_while_open).
TICKET_ACTIONS = {
    "acknowledge": (ReviewTicket.Status.ACKNOWLEDGED, [ReviewTicket.Status.OPEN]),
    "resolve": (ReviewTicket.Status.RESOLVED, [ReviewTicket.Status.OPEN, ReviewTicket.Status.ACKNOWLEDGED]),
}


class TicketMovedOn(ValidationError):
    """The ticket is no longer in a status the action starts from (someone acted first)."""


def reconcile_due(now: datetime) -> bool:
    """True once per local day, in the 02:00 hour of TELEMETRY_TIME_ZONE: the hourly schedule
    asks, whatever zone the cluster keeps and across DST changes."""
    local = now.astimezone(totals.local_zone())
    if local.hour != RECONCILE_HOUR:
        return False
    today_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return not AggregationRun.objects.filter(kind="reconcile", started_at__gte=today_start).exists()


def ticket_transition(*, ticket: ReviewTicket, action: str, by: str) -> ReviewTicket:
    """Acknowledge or resolve a ticket, recording who and when, and return it as stored.
    ValidationError for any other action; TicketMovedOn, changing nothing, when the ticket has
    already moved past where the action starts (already acknowledged, already resolved)."""
    if action not in TICKET_ACTIONS:
        raise ValidationError(f"action must be {' or '.join(TICKET_ACTIONS)}")
    status, starts_from = TICKET_ACTIONS[action]
    # One conditional UPDATE, not a save() of what the page loaded: two staff acting at once, or a
    # page older than the last change, find the row already moved and change nothing.
    moved = ReviewTicket.objects.filter(pk=ticket.pk, status__in=starts_from).update(
        status=status, updated_at=timezone.now(), updated_by=by
    )
    ticket.refresh_from_db()
    if not moved:
        who = f" by {ticket.updated_by}" if ticket.updated_by else ""
        raise TicketMovedOn(f"Ticket {ticket.pk} is already {ticket.status}{who}: it cannot be {status.label.lower()}.")
    return ticket


def ticket_open(*, kind: str, device_id: int | None, day: date | None, evidence: dict) -> bool:
    """Open a ticket unless one for the same problem is still open or acknowledged; True when
    this call opened it. Safe against a concurrent run opening the same ticket."""
    unresolved = ReviewTicket.objects.filter(kind=kind, device_id=device_id, day=day).exclude(status="resolved")
    if unresolved.exists():  # the common case, nightly: the problem already has its ticket
        return False
    # Two overlapping runs both pass the check above; ticket_once_while_open decides between them.
    # The savepoint keeps the caller's transaction usable when this run loses.
    try:
        with transaction.atomic():
            ReviewTicket.objects.create(kind=kind, device_id=device_id, day=day, evidence=evidence)
    except IntegrityError:
        if unresolved.exists():  # the other run's ticket, committed while our insert waited on it
            return False
        raise  # some other integrity problem (a device deleted meanwhile): not ours to hide
    return True


def counter_span_problems(entries: list[LedgerEntry]) -> dict | None:
    """Entries of one device-day in order: deltas must match the counters and chain without breaks;
    the counter span (last minus first, plus what resets restarted) must equal the summed deltas."""
    chain = [e for e in entries if e.kind != "glitch"]
    if not chain:
        return None
    bad_delta = [e.pk for e in chain if e.kind in ("normal", "gap") and e.delta_wh != e.end_wh - e.start_wh]
    breaks = [b.pk for a, b in pairwise(chain) if a.end_event_id != b.start_event_id or a.end_wh != b.start_wh]
    restarted = sum(e.delta_wh - (e.end_wh - e.start_wh) for e in chain if e.kind == "reset")
    span = chain[-1].end_wh - chain[0].start_wh + restarted
    summed = sum(e.delta_wh for e in chain)
    if bad_delta or breaks or span != summed:
        return {
            "first_wh": chain[0].start_wh,
            "last_wh": chain[-1].end_wh,
            "span_wh": span,
            "summed_wh": summed,
            "entries_with_wrong_delta": bad_delta,
            "breaks_before_entries": breaks,
        }
    return None


def ledger_reconcile(*, day: date | None = None, now: datetime | None = None) -> dict:
    """Check one local day (yesterday by default); returns counts of checks and tickets opened."""
    now = now or timezone.now()
    day = day or totals.local_day(now) - timedelta(days=1)
    start, end = totals.day_bounds(day)
    started, opened = timezone.now(), defaultdict(int)
    entries = defaultdict(list)
    for entry in LedgerEntry.objects.current().filter(end_ts__gte=start, end_ts__lt=end).order_by("end_ts", "id"):
        entries[entry.device_id].append(entry)
    with transaction.atomic():
        for device_id, rows in entries.items():
            evidence = counter_span_problems(rows)
            if evidence and ticket_open(kind="counter_span", device_id=device_id, day=day, evidence=evidence):
                opened["counter_span"] += 1
        for device_id, evidence in totals_mismatches(day).items():
            if ticket_open(kind="total_mismatch", device_id=device_id, day=day, evidence=evidence):
                opened["total_mismatch"] += 1
        for device in Device.objects.silent_since(now - SILENT_AFTER).filter(events__isnull=False).distinct():
            evidence = {"last_seen_at": device.last_seen_at.isoformat() if device.last_seen_at else None}
            if ticket_open(kind="silent_device", device_id=device.pk, day=day, evidence=evidence):
                opened["silent_device"] += 1
        stale = RawEvent.objects.filter(processed=False, received_at__lt=now - UNPROCESSED_AFTER)
        for device_id, count in _count_by_device(stale).items():
            if ticket_open(kind="unprocessed", device_id=device_id, day=day, evidence={"unprocessed_events": count}):
                opened["unprocessed"] += 1
    result = {"day": day.isoformat(), "device_days": len(entries), "tickets_opened": dict(opened)}
    AggregationRun.objects.create(kind="reconcile", started_at=started, finished_at=timezone.now(), result=result)
    return result


def _count_by_device(events) -> dict:
    counts = defaultdict(int)
    for device_id in events.values_list("device_id", flat=True):
        counts[device_id] += 1
    return counts


def totals_mismatches(day: date) -> dict[int, dict]:
    """Device -> evidence where the stored total differs from the ledger recomputed for the day."""
    start, end = totals.day_bounds(day)
    fresh: dict = defaultdict(lambda: [0, Decimal(0)])
    prices = totals.Prices.load()
    entries = LedgerEntry.objects.current().filter(end_ts__gte=start, start_ts__lt=end).exclude(delta_wh=0)
    totals.pieces_add(fresh, entries, 1, prices, {day})
    stored = {t.device_id: (t.wh, t.cost) for t in DailyTotal.objects.filter(day=day)}
    problems = {}
    for device_id in set(stored) | {d for d, _ in fresh}:
        ledger_wh, ledger_cost = fresh.get((device_id, day), (0, Decimal(0)))
        stored_wh, stored_cost = stored.get(device_id, (0, Decimal(0)))
        if ledger_wh != stored_wh or ledger_cost != stored_cost:
            problems[device_id] = {
                "stored_wh": stored_wh,
                "ledger_wh": ledger_wh,
                "stored_cost": str(stored_cost),
                "ledger_cost": str(ledger_cost),
            }
    return problems


def events_prune(*, now: datetime | None = None, chunk: int = 10000) -> int:
    """Delete raw events older than TELEMETRY_RETENTION_DAYS (device time); returns how many. On
    PostgreSQL whole months go by dropping their partitions (telemetry/partitions.py)."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.TELEMETRY_RETENTION_DAYS)
    _pointers_clear(cutoff)
    if bulk.is_postgres():
        # The drop runs in a transaction of its own, after the pointers are cleared: one holding
        # ledger rows while it waits for the table lock could deadlock with an ingest batch.
        pruned = partitions.events_prune_partitioned(cutoff=cutoff, now=now)
        _pointers_clear(cutoff)  # entries a late reading re-derived meanwhile
        return pruned["eventsDropped"] + pruned["eventsDeleted"]
    deleted = 0
    while True:
        ids = list(RawEvent.objects.filter(ts__lt=cutoff, processed=True).values_list("pk", flat=True)[:chunk])
        if not ids:
            _pointers_clear(cutoff)  # entries a late reading re-derived meanwhile
            return deleted
        deleted += RawEvent.objects.filter(pk__in=ids)._raw_delete(RawEvent.objects.db)


def _pointers_clear(cutoff: datetime) -> None:
    """Entries keep their readings' times and counters; their pointers to the events that go are
    cleared. An entry's start_ts and end_ts are its events' times, so these are exactly the
    entries that start (or end) before the cutoff."""
    with transaction.atomic():
        LedgerEntry.objects.filter(start_ts__lt=cutoff, start_event__isnull=False).update(start_event=None)
        LedgerEntry.objects.filter(end_ts__lt=cutoff, end_event__isnull=False).update(end_event=None)
