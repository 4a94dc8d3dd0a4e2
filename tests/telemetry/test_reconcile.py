"""Nightly reconciliation opens review tickets for each kind of mismatch; retention prunes raw events."""

import threading
import time
from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection, transaction
from django_q.models import Schedule

from ops.models import JobRun
from telemetry import reconcile, tasks
from telemetry.models import DailyTotal, Device, LedgerEntry, RawEvent, ReviewTicket
from telemetry.reconcile import events_prune, ledger_reconcile
from tests.telemetry.conftest import feed

DAY = date(2026, 3, 1)
AFTER = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_clean_day_opens_no_ticket(db):
    feed("m1", (0, 0), (10, 50), (20, 5), (30, 12, {"boot_id": "x"}), (40, 20))
    Device.objects.update(last_seen_at=AFTER)
    result = ledger_reconcile(day=DAY, now=AFTER)
    assert result["device_days"] == 1 and result["tickets_opened"] == {}
    assert not ReviewTicket.objects.exists()


def test_total_that_drifted_from_the_ledger_opens_one_ticket_with_evidence(db):
    feed("m1", (0, 0), (10, 50))
    Device.objects.update(last_seen_at=AFTER)
    DailyTotal.objects.update(wh=49)
    ledger_reconcile(day=DAY, now=AFTER)
    ticket = ReviewTicket.objects.get()
    assert (ticket.kind, ticket.status, ticket.day) == ("total_mismatch", "open", DAY)
    assert ticket.evidence["stored_wh"] == 49 and ticket.evidence["ledger_wh"] == 50
    ledger_reconcile(day=DAY, now=AFTER)  # still open: not opened twice
    assert ReviewTicket.objects.count() == 1


def test_broken_chain_opens_a_counter_span_ticket(db):
    feed("m1", (0, 0), (10, 50), (20, 80))
    Device.objects.update(last_seen_at=AFTER)
    corrupted = LedgerEntry.objects.get(end_wh=80)
    LedgerEntry.objects.filter(pk=corrupted.pk).update(delta_wh=40, start_wh=40)  # changed outside the rules
    DailyTotal.objects.update(wh=90)
    ledger_reconcile(day=DAY, now=AFTER)
    ticket = ReviewTicket.objects.get(kind="counter_span")
    assert ticket.evidence["breaks_before_entries"] == [corrupted.pk]
    assert (ticket.evidence["span_wh"], ticket.evidence["summed_wh"]) == (80, 90)


def test_silent_device_and_unprocessed_events_open_tickets(db):
    feed("m1", (0, 0), (10, 50))
    RawEvent.objects.update(processed=False, received_at=AFTER - timedelta(hours=30))
    Device.objects.update(last_seen_at=AFTER - timedelta(hours=30))
    ledger_reconcile(day=DAY, now=AFTER)
    assert set(ReviewTicket.objects.values_list("kind", flat=True)) == {"silent_device", "unprocessed"}


def test_reconcile_command_and_the_02_00_local_schedule(db, settings):
    out = StringIO()
    call_command("reconcile", "--date", "2026-03-01", stdout=out)
    assert "2026-03-01: 0 device-days checked" in out.getvalue()
    call_command("setup_schedules", stdout=StringIO())
    assert Schedule.objects.filter(name="telemetry-reconcile", func="telemetry.tasks.ledger_reconcile").exists()
    assert Schedule.objects.filter(name="telemetry-prune").exists()


def test_schedule_task_runs_at_02_local_once(db, settings, monkeypatch):
    from django.utils import timezone as dj_timezone

    settings.TELEMETRY_TIME_ZONE = "America/Chicago"
    monkeypatch.setattr(dj_timezone, "now", lambda: datetime(2026, 3, 9, 7, 5, tzinfo=UTC))  # 02:05 CDT
    assert tasks.ledger_reconcile()["day"] == "2026-03-08"
    job = JobRun.objects.get()  # on the Jobs page beside the SMT runs
    assert (job.kind, job.status, job.counts["deviceDays"]) == ("reconcile", "succeeded", 0) and "2026-03-08" in job.log
    assert tasks.ledger_reconcile() is None  # once per local day
    monkeypatch.setattr(dj_timezone, "now", lambda: datetime(2026, 3, 9, 9, 5, tzinfo=UTC))
    assert tasks.ledger_reconcile() is None


def test_prune_removes_old_raw_events_and_keeps_ledger_and_totals(db, settings):
    settings.TELEMETRY_RETENTION_DAYS = 730
    feed("m1", (0, 0), (10, 50), start=datetime(2023, 1, 1, tzinfo=UTC))
    feed("m2", (0, 60), (10, 70))
    assert events_prune(now=datetime(2026, 3, 2, tzinfo=UTC)) == 2
    assert RawEvent.objects.count() == 2
    assert LedgerEntry.objects.current().count() == 2 and DailyTotal.objects.filter(day__year=2023).get().wh == 50
    # No database constraint guards the ledger's pointers to raw events: pruning clears them.
    old = LedgerEntry.objects.get(device__name="m1")
    assert (old.start_event_id, old.end_event_id, old.start_wh, old.end_wh) == (None, None, 0, 50)
    kept = set(RawEvent.objects.values_list("pk", flat=True))
    assert (
        set(LedgerEntry.objects.filter(device__name="m2").values_list("start_event_id", "end_event_id").get()) == kept
    )


def test_the_prune_task_is_a_recorded_job(db):
    assert tasks.events_prune() == 0
    job = JobRun.objects.get()
    assert (job.kind, job.status, job.counts) == ("prune", "succeeded", {"eventsPruned": 0})


def test_reconcile_is_due_in_the_local_02_hour_once_a_day_across_a_dst_change(db, settings):
    settings.TELEMETRY_TIME_ZONE = "America/Chicago"
    spring_forward = datetime(2026, 3, 8, 8, 30, tzinfo=UTC)  # 03:30 CDT: 02:00 did not exist that day
    assert not reconcile.reconcile_due(spring_forward)
    due = datetime(2026, 3, 9, 7, 30, tzinfo=UTC)  # 02:30 CDT
    assert reconcile.reconcile_due(due)
    assert not reconcile.reconcile_due(due - timedelta(hours=1))  # 01:30
    ledger_reconcile(day=DAY, now=due)
    assert not reconcile.reconcile_due(due + timedelta(minutes=20))  # already done this local day


def test_a_ticket_is_acknowledged_then_resolved_with_who_and_when_and_an_unknown_action_is_refused(db):
    ticket = ReviewTicket.objects.create(kind="silent_device", evidence={})
    reconcile.ticket_transition(ticket=ticket, action="acknowledge", by="user:staff")
    ticket.refresh_from_db()
    assert (ticket.status, ticket.updated_by) == ("acknowledged", "user:staff")
    with pytest.raises(ValidationError, match="action must be acknowledge or resolve"):
        reconcile.ticket_transition(ticket=ticket, action="delete", by="user:staff")
    reconcile.ticket_transition(ticket=ticket, action="resolve", by="user:other")
    assert ReviewTicket.objects.values_list("status", "updated_by").get() == ("resolved", "user:other")


def test_a_page_loaded_before_the_ticket_was_resolved_cannot_bring_it_back_beside_a_new_one(db):
    stale = ReviewTicket.objects.create(kind="silent_device", day=DAY, evidence={})
    reconcile.ticket_transition(ticket=ReviewTicket.objects.get(), action="resolve", by="user:first")
    assert reconcile.ticket_open(kind="silent_device", device_id=None, day=DAY, evidence={"again": True})
    with pytest.raises(reconcile.TicketMovedOn, match=f"Ticket {stale.pk} is already resolved by user:first"):
        reconcile.ticket_transition(ticket=stale, action="acknowledge", by="user:late")
    assert stale.status == "resolved"  # the caller's copy shows what is stored
    assert sorted(ReviewTicket.objects.values_list("status", "updated_by")) == [
        ("open", ""),
        ("resolved", "user:first"),
    ]


def test_two_staff_acknowledging_one_ticket_at_once_move_it_once(transactional_db):
    ticket = ReviewTicket.objects.create(kind="silent_device", evidence={})
    both_loaded, outcomes = threading.Barrier(2), {}

    def acknowledge(by: str) -> None:
        page = ReviewTicket.objects.get(pk=ticket.pk)  # each loads it open, as two pages would
        both_loaded.wait()
        try:
            reconcile.ticket_transition(ticket=page, action="acknowledge", by=by)
            outcomes[by] = "acknowledged"
        except reconcile.TicketMovedOn:
            outcomes[by] = "refused"
        finally:
            connection.close()  # the thread's own connection

    threads = [threading.Thread(target=acknowledge, args=(by,)) for by in ("user:a", "user:b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes.values()) == ["acknowledged", "refused"]
    winner = next(by for by, outcome in outcomes.items() if outcome == "acknowledged")
    assert ReviewTicket.objects.values_list("status", "updated_by").get() == ("acknowledged", winner)


def wait_for_a_lock_wait(timeout: float = 30) -> None:
    """Until another connection of this database waits on a row lock (an INSERT held by a unique index)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the second run never waited on the first run's ticket")


def test_two_overlapping_reconcile_runs_open_one_ticket_and_both_go_on(transactional_db):
    device = Device.objects.create(name="lab-1")
    first_opened, first_may_commit, outcomes = threading.Event(), threading.Event(), {}

    def run(name: str) -> None:
        try:
            with transaction.atomic():  # as ledger_reconcile holds one transaction for the whole run
                outcomes[name] = reconcile.ticket_open(
                    kind="silent_device", device_id=device.pk, day=DAY, evidence={"run": name}
                )
                if name == "first":
                    first_opened.set()
                    first_may_commit.wait(30)
                else:  # the run goes on after losing the race: its transaction was not broken
                    outcomes["second sees"] = ReviewTicket.objects.count()
        finally:
            connection.close()  # the thread's own connection

    # The first run has inserted and not committed: the second's check sees nothing and its INSERT
    # waits on the first's row, the moment two overlapping runs can both reach.
    first = threading.Thread(target=run, args=("first",))
    first.start()
    assert first_opened.wait(30)
    second = threading.Thread(target=run, args=("second",))
    second.start()
    wait_for_a_lock_wait()
    first_may_commit.set()
    for thread in (first, second):
        thread.join(30)
    assert outcomes == {"first": True, "second": False, "second sees": 1}
    assert ReviewTicket.objects.values_list("status", "evidence").get() == ("open", {"run": "first"})
