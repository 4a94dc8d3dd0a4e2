"""The plausible-power rule: a counter step faster than TELEMETRY_MAX_POWER_W is a glitch, not consumption."""

from datetime import UTC, datetime, timedelta

from django.db.models import Sum

from telemetry.ledger import Reading, ledger_derive
from telemetry.models import DailyTotal, LedgerEntry
from tests.telemetry.conftest import current, feed

T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


def at(minute: int, wh: int) -> Reading:
    return Reading(minute + 1, T0 + timedelta(minutes=minute), wh)


def kinds(entries) -> list[tuple]:
    return [(e.start.energy_wh, e.end.energy_wh, e.delta_wh, e.kind) for e in entries]


def test_a_step_within_the_plausible_power_is_consumption():
    # 25 kW for a minute is 416.7 Wh: 416 Wh is plausible.
    entries, pending = ledger_derive([at(0, 1000), at(1, 1416)], gap_seconds=900, max_power_w=25000)
    assert kinds(entries) == [(1000, 1416, 416, "normal")] and pending is None


def test_a_single_spike_is_a_glitch_carrying_nothing_and_the_counter_goes_on_from_the_base():
    entries, pending = ledger_derive(
        [at(0, 1000), at(1, 999_999), at(2, 1010), at(3, 1020)], gap_seconds=900, max_power_w=25000
    )
    assert kinds(entries) == [(1000, 999_999, 0, "glitch"), (1000, 1010, 10, "normal"), (1010, 1020, 10, "normal")]
    assert "a single spike" in entries[0].reason and "more than 25000 W" in entries[0].reason
    assert pending is None


def test_a_counter_that_jumps_and_goes_on_from_there_counts_from_the_new_level():
    entries, _ = ledger_derive(
        [at(0, 1000), at(1, 500_000), at(2, 500_010), at(3, 500_020)], gap_seconds=900, max_power_w=25000
    )
    assert kinds(entries) == [
        (1000, 500_000, 0, "glitch"),
        (500_000, 500_010, 10, "normal"),
        (500_010, 500_020, 10, "normal"),
    ]
    assert "the counter went on from there" in entries[0].reason


def test_a_high_reading_waits_for_the_next_one_like_a_low_one():
    entries, pending = ledger_derive([at(0, 1000), at(1, 999_999)], gap_seconds=900, max_power_w=25000)
    assert entries == [] and pending.energy_wh == 999_999


def test_the_same_step_over_a_long_enough_time_is_consumption():
    # 100 kWh in 5 hours is 20 kW: plausible; in 1 hour (100 kW) it is not.
    slow, _ = ledger_derive([at(0, 0), at(300, 100_000)], gap_seconds=900, max_power_w=25000)
    fast, pending = ledger_derive([at(0, 0), at(60, 100_000)], gap_seconds=900, max_power_w=25000)
    assert slow[0].delta_wh == 100_000 and slow[0].kind == "gap"
    assert fast == [] and pending.energy_wh == 100_000


def test_without_a_limit_every_rise_counts():
    entries, _ = ledger_derive([at(0, 1000), at(1, 999_999)], gap_seconds=900)
    assert kinds(entries) == [(1000, 999_999, 998_999, "normal")]


def test_a_spike_stored_through_ingest_leaves_totals_untouched(db, settings):
    settings.TELEMETRY_MAX_POWER_W = 25000
    feed("m1", (0, 1000), (1, 10**9), (2, 1010), (3, 1030))
    assert current("m1") == [(0, 1, 0, "glitch", "low"), (0, 2, 10, "normal", "high"), (2, 3, 20, "normal", "high")]
    assert DailyTotal.objects.aggregate(s=Sum("wh"))["s"] == 30
    assert LedgerEntry.objects.current().aggregate(s=Sum("delta_wh"))["s"] == 30


def test_a_high_reading_at_the_end_of_a_batch_is_decided_by_the_next_batch(db, settings):
    settings.TELEMETRY_MAX_POWER_W = 25000
    feed("m2", (0, 1000), (1, 1400))
    feed("m2", (2, 10**9))
    assert current("m2") == [(0, 1, 400, "normal", "high")]  # waiting: spike or jump?
    feed("m2", (3, 1410))
    assert current("m2") == [(0, 1, 400, "normal", "high"), (1, 2, 0, "glitch", "low"), (1, 3, 10, "normal", "high")]


def arrived(micros: int, wh: int) -> Reading:
    """A reading without a device time: stored under the moment it arrived (ts == received_at)."""
    moment = T0 + timedelta(microseconds=micros)
    return Reading(micros + 1, moment, wh, received_at=moment)


def test_readings_stamped_on_arrival_in_one_burst_are_consumption_not_glitches():
    # A backlog delivered at once: 16 Wh and 30 Wh steps 32 us apart would be gigawatts.
    burst = [arrived(0, 1234), arrived(32, 1250), arrived(64, 1280)]
    entries, pending = ledger_derive(burst, gap_seconds=900, max_power_w=25000)
    assert kinds(entries) == [(1234, 1250, 16, "normal"), (1250, 1280, 30, "normal")] and pending is None
    # The same steps 32 us apart in device time are still judged: the rule stands where time is known.
    timed = [Reading(r.id, r.ts, r.energy_wh, received_at=r.ts + timedelta(seconds=5)) for r in burst]
    entries, _ = ledger_derive(timed, gap_seconds=900, max_power_w=25000)
    assert "glitch" in [e.kind for e in entries]


def test_a_low_reading_stamped_on_arrival_is_still_a_glitch():
    # Only the power check needs time; a counter that dips and comes back is judged as before.
    entries, _ = ledger_derive(
        [arrived(0, 1000), arrived(10, 900), arrived(20, 1010)], gap_seconds=900, max_power_w=25000
    )
    assert kinds(entries) == [(1000, 900, 0, "glitch"), (1000, 1010, 10, "normal")]
