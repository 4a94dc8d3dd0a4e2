"""The ledger rules of docs/TELEMETRY.md, one reading pattern each."""

from django.db.models import Sum

from telemetry.ledger import Reading, ledger_derive
from telemetry.models import DailyTotal, Device, LedgerEntry, RawEvent
from tests.telemetry.conftest import T0, current, feed


def test_readings_in_order_give_one_entry_per_pair(db):
    feed("m1", (0, 1000), (1, 1010), (2, 1025))
    assert current("m1") == [(0, 1, 10, "normal", "high"), (1, 2, 15, "normal", "high")]
    assert not RawEvent.objects.filter(processed=False).exists()


def test_gap_gives_one_entry_spanning_it_at_lower_confidence(db):
    feed("m1", (0, 1000), (60, 1500), (60 * 30, 9000))
    assert current("m1") == [(0, 60, 500, "gap", "medium"), (60, 1800, 7500, "gap", "low")]


def test_counter_drop_with_new_boot_id_is_a_reset_counting_from_zero(db):
    feed(
        "m1",
        (0, 5000, {"boot_id": "a"}),
        (1, 5010, {"boot_id": "a"}),
        (2, 7, {"boot_id": "b"}),
        (3, 20, {"boot_id": "b"}),
    )
    rows = current("m1")
    assert rows[1] == (1, 2, 7, "reset", "medium")
    assert rows[2] == (2, 3, 13, "normal", "high")
    assert sum(r[2] for r in rows) == 10 + 7 + 13


def test_counter_drop_that_keeps_climbing_is_a_reset_once_the_next_reading_comes(db):
    feed("m1", (0, 5000), (1, 5010), (2, 4))
    assert current("m1") == [(0, 1, 10, "normal", "high")]  # undecided until the next reading
    feed("m1", (3, 12))
    assert current("m1") == [(0, 1, 10, "normal", "high"), (1, 2, 4, "reset", "medium"), (2, 3, 8, "normal", "high")]


def test_single_low_reading_then_back_to_base_is_a_glitch_recorded_and_excluded(db):
    feed("m1", (0, 5000), (1, 5010), (2, 3), (3, 5020))
    assert current("m1") == [(0, 1, 10, "normal", "high"), (1, 2, 0, "glitch", "low"), (1, 3, 10, "normal", "high")]


def test_duplicates_by_seq_or_by_time_and_counter_are_counted_and_dropped(db):
    result = feed("m1", (0, 1000, {"seq": 1}), (1, 1010, {"seq": 2}), (1, 1010, {"seq": 2}))
    assert (result.stored, result.duplicates) == (2, 1)
    result = feed("m1", (5, 9999, {"seq": 2}), (1, 1010))
    assert (result.stored, result.duplicates) == (0, 2)
    assert Device.objects.get(name="m1").duplicates == 3
    assert RawEvent.objects.count() == 2
    assert current("m1") == [(0, 1, 10, "normal", "high")]


def test_out_of_order_readings_in_one_batch_are_taken_in_device_time_order(db):
    feed("m1", (2, 1030), (0, 1000), (1, 1010))
    assert current("m1") == [(0, 1, 10, "normal", "high"), (1, 2, 20, "normal", "high")]


def test_late_reading_supersedes_the_entry_it_splits_and_says_why(db):
    feed("m1", (0, 1000), (10, 1100), (20, 1200))
    old = LedgerEntry.objects.get(start_ts=T0)
    feed("m1", (5, 1040))
    assert current("m1") == [
        (0, 5, 40, "normal", "high"),
        (5, 10, 60, "normal", "high"),
        (10, 20, 100, "normal", "high"),
    ]
    old.refresh_from_db()
    assert old.superseded_at is not None and old.superseded_by is not None
    assert "late reading" in old.superseded_reason
    assert LedgerEntry.objects.count() == 4  # nothing edited or deleted: one old, three current


def test_late_reading_can_turn_a_reset_into_a_glitch(db):
    feed("m1", (0, 5000), (1, 5010), (2, 3), (4, 9))
    assert [r[3] for r in current("m1")] == ["normal", "reset", "normal"]
    feed("m1", (3, 5020))  # after the low reading the counter was back at its old base
    assert [r[3] for r in current("m1")] == ["normal", "glitch", "normal"]  # 9 Wh now waits for its next reading
    feed("m1", (5, 15))
    assert [r[3] for r in current("m1")] == ["normal", "glitch", "normal", "reset", "normal"]


def test_daily_totals_equal_current_ledger_to_the_wh(db):
    feed("m1", (0, 0), (10, 100), (20, 5), (30, 90), (25, 60), (40, 90), (2000, 5000))
    ledger_wh = LedgerEntry.objects.current().aggregate(s=Sum("delta_wh"))["s"]
    assert DailyTotal.objects.aggregate(s=Sum("wh"))["s"] == ledger_wh


def test_derivation_rule_for_a_drop_that_falls_further_marks_both_glitches():
    at = lambda m, wh: Reading(m, T0.replace(minute=m), wh)  # noqa: E731
    entries, pending = ledger_derive([at(0, 100), at(1, 50), at(2, 40), at(3, 120)], gap_seconds=900)
    assert [(e.kind, e.delta_wh) for e in entries] == [("glitch", 0), ("glitch", 0), ("normal", 20)]
    assert pending is None
