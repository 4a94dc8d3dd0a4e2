"""The set-based rebuild on PostgreSQL gives exactly the rows of the Python one (entry_pieces)."""

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Sum

from telemetry import totals
from telemetry.models import CostVersion, DailyTotal, Device, LedgerEntry
from tests.telemetry.conftest import feed

FIRST, LAST = date(2025, 12, 20), date(2026, 11, 10)
# America/Chicago has its 23- and 25-hour days on 8 March and 1 November 2026; America/Havana
# springs forward at midnight on 8 March and falls back to a second midnight on 1 November.
ZONES = ["America/Chicago", "Asia/Kolkata", "America/Havana"]


def midnight(day: date) -> datetime:
    return totals.day_bounds(day)[0]


def wall(zone: str, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def entry(device: Device, start: datetime, end: datetime, delta: int, **extra) -> LedgerEntry:
    return LedgerEntry.objects.create(
        device=device, start_ts=start, end_ts=end, start_wh=0, end_wh=delta, delta_wh=delta, **extra
    )


def prices_create(zone: str) -> None:
    for effective_from, price in [
        (datetime(2025, 12, 1, tzinfo=UTC), "0.100000"),
        (midnight(date(2026, 3, 7)), "0.215000"),  # exactly at a local midnight
        (wall(zone, 2026, 3, 7, 13, 17, 5, 123457), "0.333333"),
        (wall(zone, 2026, 3, 8, 4, 0), "0.000001"),
        (wall(zone, 2026, 3, 9, 23, 59, 59, 999999), "1.234567"),
        (wall(zone, 2026, 11, 1, 1, 30), "0.187500"),
    ]:
        CostVersion.objects.create(effective_from=effective_from, cost_per_kwh=Decimal(price))


def edge_entries(device: Device, zone: str) -> None:
    """Hand-made entries on the awkward instants."""
    change = wall(zone, 2026, 3, 7, 13, 17, 5, 123457)
    entry(
        device,
        midnight(date(2026, 3, 6)) - timedelta(minutes=7),
        midnight(date(2026, 3, 10)) + timedelta(seconds=3),
        99_991,
    )
    entry(device, midnight(date(2026, 3, 7)), midnight(date(2026, 3, 7)), 17)  # zero-length at a midnight and a change
    entry(device, change, change, 5)  # zero-length at a price change
    entry(device, wall(zone, 2026, 6, 1, 12, 0), wall(zone, 2026, 6, 1, 12, 0), 3)
    entry(device, midnight(date(2026, 10, 30)) + timedelta(hours=22), midnight(date(2026, 11, 3)), 7_777)
    entry(device, midnight(date(2026, 11, 1)), midnight(date(2026, 11, 2)), 2_501)  # the 25-hour day exactly
    entry(device, midnight(date(2026, 3, 8)), midnight(date(2026, 3, 9)), 2_299)  # the 23-hour day exactly
    # delta x elapsed microseconds is ~1e24 here: far past bigint.
    entry(device, midnight(FIRST) - timedelta(days=30, seconds=1), midnight(LAST) + timedelta(hours=5), 3_000_000_001)
    entry(device, midnight(date(2026, 4, 2)), midnight(date(2026, 4, 5)), 0, kind="glitch")
    entry(
        device, midnight(date(2026, 4, 2)), midnight(date(2026, 4, 4)), 10_000, superseded_at=midnight(date(2026, 4, 4))
    )
    entry(device, midnight(LAST + timedelta(days=1)), midnight(LAST + timedelta(days=1)), 11)  # just after the range
    # The ledger makes no negative deltas, but if one came, both paths must floor it the same way.
    entry(device, wall(zone, 2026, 5, 1, 22, 0, 0, 7), wall(zone, 2026, 5, 3, 1, 0), -4_321)


def random_entries(device: Device, seed: int) -> None:
    """A chained ledger with odd microseconds: short, zero-length, multi-day and long entries."""
    rng = random.Random(seed)
    ts = midnight(date(2026, 3, 5)) + timedelta(microseconds=rng.randrange(10**9))
    for _ in range(150):
        step = rng.choice(
            [
                timedelta(0),
                timedelta(seconds=rng.randrange(1, 7200), microseconds=rng.randrange(10**6)),
                timedelta(days=rng.randrange(1, 4), seconds=rng.randrange(86400)),
            ]
        )
        entry(device, ts, ts + step, rng.choice([1, 2, 7, rng.randrange(1, 100_000)]))
        ts += step


def resets_feed(zone: str) -> None:
    """Readings through the ledger: a reboot restarting the counter, a gap across midnight."""
    start = midnight(date(2026, 3, 7)) - timedelta(minutes=50)
    feed(
        "m-reset",
        (0, 1000, {"boot_id": "a"}),
        (40, 1300, {"boot_id": "a"}),
        (55, 40, {"boot_id": "b"}),
        (70, 300, {"boot_id": "b"}),
        (3000, 9000, {"boot_id": "b"}),
        start=start,
    )


def table() -> dict:
    return {(t.device_id, t.day): (t.wh, t.cost) for t in DailyTotal.objects.all()}


@pytest.fixture(params=ZONES)
def ledger(request, settings, db):
    settings.TELEMETRY_TIME_ZONE = request.param
    prices_create(request.param)
    devices = [Device.objects.create(name=f"d{n}") for n in range(3)]
    edge_entries(devices[0], request.param)
    for n, device in enumerate(devices):
        random_entries(device, seed=n)
    resets_feed(request.param)
    return devices


def test_sql_rebuild_gives_exactly_the_python_rows(ledger):
    totals.totals_rebuild(first=FIRST, last=LAST, in_sql=False)
    expected = table()
    DailyTotal.objects.update(wh=1, cost=Decimal("9.9"))
    totals.totals_rebuild(first=FIRST, last=LAST, in_sql=True)
    assert table() == expected
    assert len(expected) > 300


def test_sql_rebuild_adds_up_to_the_current_ledger(ledger):
    totals.totals_rebuild(first=FIRST, last=LAST + timedelta(days=1), in_sql=True)
    # The long entry reaching before FIRST keeps the Wh of those days out of the range.
    outside = sum(
        wh
        for day, wh, _ in totals.entry_pieces(
            start=midnight(FIRST) - timedelta(days=30, seconds=1),
            end=midnight(LAST) + timedelta(hours=5),
            delta_wh=3_000_000_001,
            prices=totals.Prices.load(),
        )
        if day < FIRST
    )
    ledger_wh = LedgerEntry.objects.current().aggregate(s=Sum("delta_wh"))["s"]
    assert DailyTotal.objects.aggregate(s=Sum("wh"))["s"] == ledger_wh - outside


def test_sql_rebuild_of_some_days_and_devices_leaves_the_rest_as_python_built_them(ledger):
    totals.totals_rebuild(first=FIRST, last=LAST, in_sql=False)
    expected = table()
    some = [ledger[0].pk, ledger[2].pk]
    DailyTotal.objects.filter(device_id__in=some).update(wh=1, cost=Decimal("9.9"))
    totals.totals_rebuild(first=FIRST, last=LAST, device_ids=some, in_sql=True)
    totals.totals_rebuild(first=date(2026, 3, 8), last=date(2026, 3, 8), in_sql=True)
    totals.totals_rebuild(first=date(2026, 10, 31), last=date(2026, 11, 2), device_ids=some[:1], in_sql=True)
    assert table() == expected
