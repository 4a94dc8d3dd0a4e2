"""Local-day totals (DST-safe), costs by the version in effect, exact recalculation of past days."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db.models import Sum

from telemetry import totals
from telemetry.models import DailyTotal, LedgerEntry
from tests.telemetry.conftest import feed


def day_wh(device: str) -> dict:
    return {t.day.isoformat(): t.wh for t in DailyTotal.objects.filter(device__name=device)}


def test_entry_across_local_midnight_is_split_by_time(db):
    # 18:00 UTC is 23:30 in Kolkata: an hour-long entry half before, half after midnight.
    feed("m1", (0, 0), (60, 1000), start=datetime(2026, 3, 1, 18, 0, tzinfo=UTC))
    assert day_wh("m1") == {"2026-03-01": 500, "2026-03-02": 500}


def test_pieces_of_an_awkward_split_still_add_up_to_the_wh(db):
    feed("m1", (0, 0), (7, 1001), start=datetime(2026, 3, 1, 18, 27, tzinfo=UTC))
    assert sum(day_wh("m1").values()) == 1001
    assert day_wh("m1") == {"2026-03-01": 429, "2026-03-02": 572}


def test_dst_zone_gives_23_and_25_hour_days(settings, db):
    settings.TELEMETRY_TIME_ZONE = "America/Chicago"
    assert totals.day_bounds(date(2026, 3, 8))[1] - totals.day_bounds(date(2026, 3, 8))[0] == timedelta(hours=23)
    assert totals.day_bounds(date(2026, 11, 1))[1] - totals.day_bounds(date(2026, 11, 1))[0] == timedelta(hours=25)
    # 1 Wh per minute for three local days around the spring change: 24h, 23h, 24h of energy.
    start = datetime(2026, 3, 7, 6, 0, tzinfo=UTC)  # midnight CST
    minutes = 72 * 60 - 60
    feed("m1", *[(m, m) for m in range(0, minutes + 1, 30)], start=start)
    assert day_wh("m1") == {"2026-03-07": 1440, "2026-03-08": 1380, "2026-03-09": 1440}
    settings.TELEMETRY_TIME_ZONE = "America/Chicago"
    feed("m2", *[(m, m) for m in range(0, 74 * 60 + 1, 30)], start=datetime(2026, 10, 31, 5, 0, tzinfo=UTC))
    assert day_wh("m2")["2026-11-01"] == 1500


def test_day_across_a_price_change_costs_each_kwh_at_its_own_price(db):
    totals.cost_version_create(cost_per_kwh=Decimal("0.10"), effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    totals.cost_version_create(cost_per_kwh=Decimal("0.30"), effective_from=datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    feed("m1", (0, 0), (120, 2000), start=datetime(2026, 3, 1, 11, 0, tzinfo=UTC))
    total = DailyTotal.objects.get()
    assert total.wh == 2000
    assert total.cost == Decimal("0.1") + Decimal("0.3")  # 1 kWh before 12:00 UTC, 1 kWh after


def test_new_version_recalculates_exactly_the_affected_past_days_and_shows_the_change(db):
    totals.cost_version_create(cost_per_kwh=Decimal("0.10"), effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    start = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    feed("m1", *[(h * 60, h * 100) for h in range(0, 24 * 5 + 1)], start=start)
    untouched = {t.day: t.cost for t in DailyTotal.objects.filter(day__lt=date(2026, 3, 3))}
    version = totals.cost_version_create(
        cost_per_kwh=Decimal("0.20"),
        effective_from=datetime(2026, 3, 3, 6, 0, tzinfo=UTC),
        notes="tariff 2026",
        created_by="test",
    )
    changed = {row["day"] for row in version.recalculation["days_changed"]}
    assert changed == {"2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06"}
    assert {t.day: t.cost for t in DailyTotal.objects.filter(day__lt=date(2026, 3, 3))} == untouched
    march4 = DailyTotal.objects.get(day=date(2026, 3, 4))
    assert march4.wh == 2400 and march4.cost == Decimal("0.48")
    # The exact rebuild agrees with what the version's fast path stored.
    before = {(t.device_id, t.day): (t.wh, t.cost) for t in DailyTotal.objects.all()}
    totals.range_recalculate(first=date(2026, 2, 28), last=date(2026, 3, 7))
    assert {(t.device_id, t.day): (t.wh, t.cost) for t in DailyTotal.objects.all()} == before
    assert (
        DailyTotal.objects.aggregate(s=Sum("wh"))["s"]
        == LedgerEntry.objects.current().aggregate(s=Sum("delta_wh"))["s"]
    )


def test_recalculate_rebuilds_totals_that_drifted(db):
    feed("m1", (0, 0), (60, 500))
    DailyTotal.objects.update(wh=1)
    result = totals.range_recalculate(first=date(2026, 3, 1), last=date(2026, 3, 1))
    assert DailyTotal.objects.get().wh == 500
    assert result["days_changed"][0]["old_kwh"] == "0.001" and result["days_changed"][0]["new_kwh"] == "0.5"
