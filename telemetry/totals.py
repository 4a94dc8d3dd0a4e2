"""Local-day totals in TELEMETRY_TIME_ZONE and their cost under effective-dated prices.

An entry is cut at every local midnight and every price change inside it; each piece gets the
share of the entry's Wh proportional to its time. The shares are cumulative floors
(floor(delta * elapsed / span) at each cut, minus the previous one), so the pieces of an entry
always add up to its delta exactly, and the same entry always gives the same pieces: totals can
be updated by adding new entries' pieces and subtracting superseded ones'.
"""

import bisect
import functools
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import DecimalField, ExpressionWrapper, F, Q, Sum, Value
from django.utils import timezone

from telemetry import bulk
from telemetry.models import AggregationRun, CostVersion, DailyTotal, LedgerEntry, Location

THOUSAND = Decimal(1000)


def local_zone() -> ZoneInfo:
    return ZoneInfo(settings.TELEMETRY_TIME_ZONE)


def local_day(ts: datetime) -> date:
    return ts.astimezone(local_zone()).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants a local day starts and ends (23 or 25 hours apart on DST days)."""
    return _day_bounds(day, settings.TELEMETRY_TIME_ZONE)


@functools.lru_cache(maxsize=4096)
def _day_bounds(day: date, zone_name: str) -> tuple[datetime, datetime]:
    """Cached: every ledger entry asks for its day's end, thousands of times a second."""
    zone = ZoneInfo(zone_name)
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


@dataclass(frozen=True)
class Prices:
    starts: list[datetime]
    prices: list[Decimal]

    @classmethod
    def load(cls) -> "Prices":
        rows = list(CostVersion.objects.order_by("effective_from").values_list("effective_from", "cost_per_kwh"))
        return cls([r[0] for r in rows], [r[1] for r in rows])

    def at(self, ts: datetime) -> Decimal:
        """The price in effect at ts (zero before the first version)."""
        index = bisect.bisect_right(self.starts, ts) - 1
        return self.prices[index] if index >= 0 else Decimal(0)

    def changes_within(self, start: datetime, end: datetime) -> list[datetime]:
        return self.starts[bisect.bisect_right(self.starts, start) : bisect.bisect_left(self.starts, end)]


def _midnights_within(start: datetime, end: datetime) -> list[datetime]:
    cuts, day = [], local_day(start)
    while True:
        boundary = day_bounds(day)[1]
        if boundary >= end:
            return cuts
        cuts.append(boundary)
        day += timedelta(days=1)


def entry_pieces(*, start: datetime, end: datetime, delta_wh: int, prices: Prices) -> list[tuple[date, int, Decimal]]:
    """(local day, Wh, cost) pieces of one entry."""
    if delta_wh == 0:
        return []
    if end <= start:
        return [(local_day(end), delta_wh, delta_wh * prices.at(end) / THOUSAND)]
    day = local_day(start)
    if end <= day_bounds(day)[1] and not prices.changes_within(start, end):
        # Within one local day and one price, as nearly every live entry is: the loop below
        # would make this same single piece, at several times the cost.
        return [(day, delta_wh, delta_wh * prices.at(start) / THOUSAND)]
    cuts = sorted(set(_midnights_within(start, end)) | set(prices.changes_within(start, end)))
    span = (end - start) // timedelta(microseconds=1)
    pieces, previous_cut, previous_cum = [], start, 0
    for cut in [*cuts, end]:
        elapsed = (cut - start) // timedelta(microseconds=1)
        cumulative = delta_wh * elapsed // span
        wh = cumulative - previous_cum
        if wh:
            pieces.append((local_day(previous_cut), wh, wh * prices.at(previous_cut) / THOUSAND))
        previous_cut, previous_cum = cut, cumulative
    return pieces


def pieces_add(into: dict, entries, sign: int, prices: Prices, days: set | None = None) -> None:
    for entry in entries:
        for day, wh, cost in entry_pieces(
            start=entry.start_ts, end=entry.end_ts, delta_wh=entry.delta_wh, prices=prices
        ):
            if days is None or day in days:
                slot = into[(entry.device_id, day)]
                slot[0] += sign * wh
                slot[1] += sign * cost


def totals_apply(*, created: list[LedgerEntry], superseded: list[LedgerEntry]) -> set:
    """Add the pieces of new entries and take away those of superseded ones; returns (device, day)s."""
    changes: dict = defaultdict(lambda: [0, Decimal(0)])
    prices = Prices.load()
    pieces_add(changes, created, 1, prices)
    pieces_add(changes, superseded, -1, prices)
    rows = [(device, day, wh, cost) for (device, day), (wh, cost) in changes.items() if wh or cost]
    _upsert_add(rows)
    return set(changes)


def _upsert_add(rows: list[tuple]) -> None:
    """INSERT ... ON CONFLICT DO UPDATE adding to the stored values (PostgreSQL and SQLite)."""
    table = DailyTotal._meta.db_table
    now = timezone.now()
    rows = [(*row, now) for row in rows]
    conflict = (
        f"ON CONFLICT (device_id, day) DO UPDATE SET wh = {table}.wh + excluded.wh, "
        f"cost = {table}.cost + excluded.cost, updated_at = excluded.updated_at"
    )
    insert = f"INSERT INTO {table} (device_id, day, wh, cost, updated_at) "
    if bulk.is_postgres():
        if rows:
            bulk.execute(insert + "{rows} " + conflict, rows, ("bigint", "date", "bigint", "numeric", "timestamptz"))
        return
    with connection.cursor() as cursor:
        for offset in range(0, len(rows), 1000):
            chunk = rows[offset : offset + 1000]
            values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
            cursor.execute(insert + f"VALUES {values} " + conflict, [p for row in chunk for p in row])


def day_sums(
    *, first: date, last: date | None, device_ids: list[int] | None = None, location: Location | None = None
) -> dict:
    """{day: (Wh, cost)} over devices (or those assigned to `location` each day), for the days
    first..last (open-ended when last is None)."""
    rows = (DailyTotal.objects.at_location(location) if location else DailyTotal.objects).filter(day__gte=first)
    if last is not None:
        rows = rows.filter(day__lte=last)
    if device_ids is not None:
        rows = rows.filter(device_id__in=device_ids)
    return {r["day"]: (r["wh"], r["cost"]) for r in rows.values("day").annotate(wh=Sum("wh"), cost=Sum("cost"))}


def totals_rebuild(*, first: date, last: date, device_ids: list[int] | None = None, in_sql: bool | None = None) -> None:
    """Recompute the days first..last from the current ledger (exact, whatever was stored).

    In one INSERT ... SELECT on PostgreSQL (`in_sql` None), entry by entry in Python on SQLite;
    both give the same rows to the Wh and the nine-place cost."""
    start, end = day_bounds(first)[0], day_bounds(last)[1]
    entries = LedgerEntry.objects.current().filter(end_ts__gte=start, start_ts__lt=end).exclude(delta_wh=0)
    stored = DailyTotal.objects.filter(day__gte=first, day__lte=last)
    if device_ids is not None:
        entries, stored = entries.filter(device_id__in=device_ids), stored.filter(device_id__in=device_ids)
    stored.delete()
    if bulk.is_postgres() if in_sql is None else in_sql:
        _rebuild_in_sql(entries, first, last)
    else:
        _rebuild_in_python(entries, first, last)


def _rebuild_in_python(entries, first: date, last: date) -> None:
    days = {first + timedelta(days=n) for n in range((last - first).days + 1)}
    fresh: dict = defaultdict(lambda: [0, Decimal(0)])
    pieces_add(
        fresh,
        entries.only("device_id", "start_ts", "end_ts", "delta_wh").iterator(chunk_size=5000),
        1,
        Prices.load(),
        days,
    )
    now = timezone.now()
    DailyTotal.objects.bulk_create(
        [DailyTotal(device_id=d, day=day, wh=wh, cost=cost, updated_at=now) for (d, day), (wh, cost) in fresh.items()],
        batch_size=2000,
    )


def _cumulative_sql(at: str) -> str:
    """floor(delta x elapsed / span) in microseconds at the instant `at`, as entry_pieces does.
    numeric, because delta x elapsed overflows bigint (a year-long gap is 3e13 us); div() is
    exact where a numeric division would round to its display scale, and truncates toward zero,
    hence the correction for a negative remainder."""
    elapsed = f"(extract(epoch FROM {at}) - extract(epoch FROM e.start_ts)) * 1000000 * e.delta_wh"
    span = "(extract(epoch FROM e.end_ts) - extract(epoch FROM e.start_ts)) * 1000000"
    return (
        f"CASE WHEN {at} <= e.start_ts THEN 0 WHEN {at} >= e.end_ts THEN e.delta_wh "
        f"ELSE (div({elapsed}, {span}) - (mod({elapsed}, {span}) < 0)::int)::bigint END"
    )


# {entries}: the current entries touching the range (the same queryset the Python path walks).
# Segments run from one cut to the next (local midnights of first..last+1, and the price changes
# between them): inside one the local day and the price stay the same, so an entry's pieces are
# its overlaps with segments. A zero-length entry is one piece, in the segment holding its end.
REBUILD_SQL = """
WITH entries AS ({entries}),
walls AS (
    SELECT d AS wall FROM generate_series(%(first)s::timestamp, %(last)s::timestamp + interval '1 day', interval '1 day') AS d
),
midnights AS (
    -- A zone falling back across midnight (America/Havana) has two local 00:00s: PostgreSQL
    -- takes the later, Python (fold=0) and so day_bounds() the earlier. So take 21:00 the
    -- evening before plus 3 real hours, and keep it when it reads 00:00 of the day.
    SELECT CASE WHEN early AT TIME ZONE %(zone)s = wall THEN early ELSE wall AT TIME ZONE %(zone)s END AS cut
    FROM (SELECT wall, (wall - interval '3 hours') AT TIME ZONE %(zone)s + interval '3 hours' AS early FROM walls) AS w
),
cuts AS (
    SELECT cut FROM midnights
    UNION
    SELECT effective_from FROM telemetry_costversion
    WHERE effective_from > (SELECT min(cut) FROM midnights) AND effective_from < (SELECT max(cut) FROM midnights)
),
segments AS (
    SELECT array_agg(cut ORDER BY cut) AS bounds, array_agg((cut AT TIME ZONE %(zone)s)::date ORDER BY cut) AS days,
           array_agg(coalesce((SELECT v.cost_per_kwh FROM telemetry_costversion AS v WHERE v.effective_from <= cut
                               ORDER BY v.effective_from DESC LIMIT 1), 0) ORDER BY cut) AS prices
    FROM cuts
),
spans AS (
    -- The first and last segment an entry overlaps, by binary search in the bounds; an entry
    -- ending on a cut stops in the segment before it.
    SELECT e.*, greatest(width_bucket(least(e.start_ts, e.end_ts), s.bounds), 1) AS k_first,
           least(width_bucket(CASE WHEN e.end_ts > e.start_ts THEN e.end_ts - interval '1 microsecond' ELSE e.end_ts END,
                              s.bounds), cardinality(s.bounds) - 1) AS k_last
    FROM entries AS e CROSS JOIN segments AS s
),
pieces AS (
    -- Generated segment numbers rather than a join to the segments: the planner cannot know an
    -- entry has a piece or two, and a join came out as a nested loop over every segment.
    SELECT e.device_id, k,
           CASE WHEN e.end_ts <= e.start_ts THEN e.delta_wh
                ELSE {cumulative_end} - {cumulative_start} END AS wh
    FROM spans AS e CROSS JOIN segments AS s CROSS JOIN LATERAL generate_series(e.k_first, e.k_last) AS k
)
-- Summed per segment first: a small hash table of integer keys (the day and a numeric price
-- per piece made it spill to disk), and a segment has one day and one price.
INSERT INTO telemetry_dailytotal (device_id, day, wh, cost, updated_at)
SELECT p.device_id, s.days[p.k], sum(p.wh), sum(p.wh * s.prices[p.k]) * 0.001, %(now)s
FROM (SELECT device_id, k, sum(wh) AS wh FROM pieces WHERE wh <> 0 GROUP BY device_id, k) AS p CROSS JOIN segments AS s
GROUP BY p.device_id, s.days[p.k]
"""


def _rebuild_in_sql(entries, first: date, last: date) -> None:
    # The queryset's own parameters go in as quoted literals, so that the rest can be named.
    selected = connection.ops.compose_sql(
        *entries.order_by().values("device_id", "start_ts", "end_ts", "delta_wh").query.sql_with_params()
    )
    sql = REBUILD_SQL.format(
        entries=selected.replace("%", "%%"),
        cumulative_end=_cumulative_sql("least(e.end_ts, s.bounds[k + 1])"),
        cumulative_start=_cumulative_sql("greatest(e.start_ts, s.bounds[k])"),
    )
    with connection.cursor() as cursor:
        # generate_series() is guessed at 1000 rows, so even a one-day rebuild looks big enough to
        # JIT-compile, which takes a second; the statement runs faster without it in any case.
        cursor.execute("SELECT current_setting('jit'), set_config('jit', 'off', true)")
        jit = cursor.fetchone()[0]
        cursor.execute(sql, {"first": first, "last": last, "zone": settings.TELEMETRY_TIME_ZONE, "now": timezone.now()})
        cursor.execute("SELECT set_config('jit', %s, true)", [jit])


def decimal_text(value: Decimal) -> str:
    """Exact, without exponent or trailing zeros: 0.8208, 0, 12."""
    return format(value.normalize(), "f") if value else "0"


def sums_diff(before: dict, after: dict) -> list[dict]:
    """Days whose Wh or cost changed, with old and new values (kWh and cost as strings)."""
    changed = []
    for day in sorted(set(before) | set(after)):
        old_wh, old_cost = before.get(day, (0, Decimal(0)))
        new_wh, new_cost = after.get(day, (0, Decimal(0)))
        if old_wh != new_wh or old_cost != new_cost:
            changed.append(
                {
                    "day": day.isoformat(),
                    "old_kwh": decimal_text(Decimal(old_wh) / THOUSAND),
                    "new_kwh": decimal_text(Decimal(new_wh) / THOUSAND),
                    "old_cost": decimal_text(old_cost),
                    "new_cost": decimal_text(new_cost),
                }
            )
    return changed


def _run_record(kind: str, started, result: dict) -> AggregationRun:
    return AggregationRun.objects.create(kind=kind, started_at=started, finished_at=timezone.now(), result=result)


def range_recalculate(
    *,
    first: date,
    last: date,
    device_ids: list[int] | None = None,
    kind: str = "recalculate",
    location: Location | None = None,
) -> dict:
    """Rebuild totals for first..last and say what changed. With a location: the devices that
    were there, on the days they were there, and the location's days compared."""
    started = timezone.now()
    with transaction.atomic():
        before = day_sums(first=first, last=last, device_ids=device_ids, location=location)
        if location is None:
            totals_rebuild(first=first, last=last, device_ids=device_ids)
        for stay in location.stays(first, last) if location else []:
            lo, hi = stay.clip(first, last)
            totals_rebuild(first=lo, last=hi, device_ids=[stay.device.pk])
        after = day_sums(first=first, last=last, device_ids=device_ids, location=location)
    result = {"first": first.isoformat(), "last": last.isoformat(), "days_changed": sums_diff(before, after)}
    run = _run_record(kind, started, result)
    return {**result, "run_id": run.pk}


def cost_version_create(
    *, cost_per_kwh: Decimal, effective_from: datetime, notes: str = "", created_by: str = ""
) -> CostVersion:
    """Add a price and recalculate exactly the days it affects: from its first local day to the
    day the next version starts. Days wholly inside take wh x price in one UPDATE; the two edge
    days (a price change inside them) are rebuilt from the ledger."""
    started = timezone.now()
    with transaction.atomic():
        version = CostVersion(
            cost_per_kwh=cost_per_kwh, effective_from=effective_from, notes=notes, created_by=created_by
        )
        version.full_clean()
        version.save()
        following = CostVersion.objects.filter(effective_from__gt=effective_from).order_by("effective_from").first()
        first = local_day(effective_from)
        last = local_day(following.effective_from) if following else None
        before = day_sums(first=first, last=last)
        inner = Q(day__gt=first) & (Q(day__lt=last) if last else Q())
        price = ExpressionWrapper(
            F("wh") * Value(cost_per_kwh) / Value(THOUSAND), output_field=DecimalField(max_digits=24, decimal_places=9)
        )
        DailyTotal.objects.filter(inner).update(cost=price)
        totals_rebuild(first=first, last=first)
        if last and last != first:
            totals_rebuild(first=last, last=last)
        after = day_sums(first=first, last=last)
        changed = sums_diff(before, after)
        version.recalculation = {
            "first": first.isoformat(),
            "last": last.isoformat() if last else None,
            "days_changed": changed,
            "old_cost": decimal_text(sum((Decimal(d["old_cost"]) for d in changed), Decimal(0))),
            "new_cost": decimal_text(sum((Decimal(d["new_cost"]) for d in changed), Decimal(0))),
        }
        version.save(update_fields=["recalculation"])
        run = _run_record("cost-version", started, version.recalculation)
    version.recalculation["run_id"] = run.pk
    return version
