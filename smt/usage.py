"""Usage questions over stored intervals: daily completeness, inspection, audited deletion.

Local days are America/Chicago days. A day's expected count is the number of 15-minute
intervals it really has: 92 on the spring-forward day, 100 on the fall-back day, else 96.
"""

import operator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import reduce

from django.core.exceptions import ValidationError
from django.db import connection, connections, router, transaction
from django.db.models import Count, Max, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from config.texas import CENTRAL
from smt.models import IntervalDeletion, RawSmtFile, SmtInterval

STEP = timedelta(minutes=15)
MAX_SUMMARY_DAYS = 3700


def local_midnight(day: date) -> datetime:
    """The UTC instant a Central local day starts."""
    return datetime(day.year, day.month, day.day, tzinfo=CENTRAL).astimezone(UTC)


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """UTC [from, to) covering the local days start..end inclusive."""
    return local_midnight(start), local_midnight(end + timedelta(days=1))


def expected_intervals(day: date) -> int:
    begin, end = day_bounds(day, day)
    return int((end - begin) / STEP)


@dataclass
class DaySummary:
    date: str
    expected: int
    found: int = 0
    completeness: float = 0.0
    kwh: float = 0.0
    generationKwh: float = 0.0
    estimated: int = 0
    gaps: list = field(default_factory=list)

    def as_json(self) -> dict:
        return asdict(self)


def first_data_day(*, esiid: str, meter: str | None = None) -> date | None:
    """The Central day of the first stored consumption interval (index on esiid, ts), or None."""
    rows = intervals_for(esiid=esiid, meter=meter).filter(channel=SmtInterval.Channel.CONSUMPTION)
    first = rows.order_by("ts").values_list("ts", flat=True).first()
    return first.astimezone(CENTRAL).date() if first else None


def counted_days(days: list[DaySummary], *, first_day: date | None, today: date) -> list[DaySummary]:
    """The days completeness is judged on: from the meter's first data up to yesterday.

    Days before the first reading are not missing, they are before the data begins; today is
    still in progress and will not be complete until midnight.
    """
    if first_day is None:
        return []
    return [d for d in days if first_day <= date.fromisoformat(d.date) < today]


def gap_label(gap: dict, *, expected: int) -> str:
    """A missing span in the day's own Central time: "18:00–22:00 (16)", "whole day (96)".

    The zone is named only where the span crosses a clock change (01:00 CDT–01:00 CST).
    """
    if gap["intervals"] >= expected:
        return f"whole day ({gap['intervals']})"
    start = datetime.fromisoformat(gap["start"].replace("Z", "+00:00")).astimezone(CENTRAL)
    end = datetime.fromisoformat(gap["end"].replace("Z", "+00:00")).astimezone(CENTRAL)
    end_text = "24:00" if end.time() == datetime.min.time() and end.date() > start.date() else f"{end:%H:%M}"
    if start.tzname() != end.tzname():
        return f"{start:%H:%M %Z}–{end_text} {end:%Z} ({gap['intervals']})"
    return f"{start:%H:%M}–{end_text} ({gap['intervals']})"


def _reading():
    """The connection raw reads use: the replica where the router sends reads (config/replica.py)."""
    return connections[router.db_for_read(SmtInterval)]


def intervals_version() -> str:
    """Moves whenever stored intervals may have changed: a file's status (normalizing, normalized,
    failed) or a new audited deletion. Both are written in or after the intervals' transaction."""
    with _reading().cursor() as cursor:  # one round trip: this runs on every cached page view
        cursor.execute(
            f"SELECT (SELECT max(status_changed_at) FROM {RawSmtFile._meta.db_table}),"
            f" (SELECT count(*) FROM {RawSmtFile._meta.db_table}), (SELECT max(id) FROM {IntervalDeletion._meta.db_table})"
        )
        changed_at, files, last_deletion = cursor.fetchone()
    return f"{changed_at}-{files}-{last_deletion}".replace(" ", "_")  # str: SQLite returns text here


def intervals_for(*, esiid: str, meter: str | None = None) -> QuerySet:
    rows = SmtInterval.objects.filter(esiid=esiid)
    return rows.filter(meter=meter) if meter else rows


def daily_summary(*, esiid: str, meter: str | None = None, start: date, end: date) -> list[DaySummary]:
    """One entry per local day from start to end (inclusive), with the missing intervals as ranges.

    Two queries whatever the range: the per-day totals (kept by triggers, see `_day_aggregates`),
    then the stored instants of the partly filled days only (a year is 366 days; most are complete or empty).
    """
    if end < start:
        raise ValidationError("dateEnd is before dateStart")
    if (end - start).days > MAX_SUMMARY_DAYS:
        raise ValidationError(f"at most {MAX_SUMMARY_DAYS} days at once")
    bounds = _local_days(start, end)
    days = {day: DaySummary(date=day.isoformat(), expected=int((hi - lo) / STEP)) for day, (lo, hi) in bounds.items()}
    for day, channel, n, kwh, est in _day_aggregates(esiid=esiid, meter=meter, bounds=bounds):
        summary = days[day]
        if channel == SmtInterval.Channel.CONSUMPTION:
            summary.found, summary.kwh, summary.estimated = n, float(kwh or 0), est
        else:
            summary.generationKwh = float(kwh or 0)
    incomplete = {day: bounds[day] for day, s in days.items() if 0 < s.found < s.expected}
    gaps = _gaps(esiid=esiid, meter=meter, days=incomplete)
    for day, summary in days.items():
        summary.completeness = round(min(summary.found, summary.expected) / summary.expected, 4)
        if summary.found == 0:
            lo, hi = bounds[day]
            summary.gaps = [{"start": _iso(lo), "end": _iso(hi), "intervals": summary.expected}]
        else:
            summary.gaps = gaps.get(day, [])
    return list(days.values())


def _day_aggregates(*, esiid: str, meter: str | None, bounds: dict[date, tuple[datetime, datetime]]) -> list[tuple]:
    """(day, channel, found, kWh, estimated) per local day and channel, from the per-day totals.

    `smt_interval_day` (migration 0007) is kept by statement triggers on `smt_interval`, in
    the writing statement's transaction, for every write path (COPY, upserts, deletions,
    TRUNCATE), keyed by the local day of each interval: a year is at most 732 small rows to
    read instead of 35,000 intervals to aggregate.
    """
    days = list(bounds)
    if connection.vendor != "postgresql":
        return _day_aggregates_scan(esiid=esiid, meter=meter, start=days[0], end=days[-1])
    meter_sql = " AND meter = %s" if meter else ""
    sql = (
        "SELECT day, channel, sum(found), sum(kwh), sum(estimated) FROM smt_interval_day"
        f" WHERE esiid = %s AND day >= %s AND day <= %s{meter_sql} GROUP BY 1, 2"
    )
    with _reading().cursor() as cursor:
        cursor.execute(sql, [esiid, days[0], days[-1], *([meter] if meter else [])])
        return [(day, channel, int(n), kwh, int(est)) for day, channel, n, kwh, est in cursor.fetchall()]


def _day_aggregates_scan(*, esiid: str, meter: str | None, start: date, end: date) -> list[tuple]:
    """The embedded SQLite database has no trigger-kept totals: aggregate the intervals (a few ESIIDs)."""
    begin, finish = day_bounds(start, end)
    rows = (
        intervals_for(esiid=esiid, meter=meter)
        .filter(ts__gte=begin, ts__lt=finish)
        .annotate(day=TruncDate("ts", tzinfo=CENTRAL))
        .values_list("day", "channel")
        .annotate(n=Count("ts"), kwh=Sum("kwh"), est=Count("ts", filter=Q(quality=SmtInterval.Quality.ESTIMATED)))
    )
    return [(day, channel, n, kwh, est) for day, channel, n, kwh, est in rows]


_DAY_TOTALS_SQL = """
    SELECT esiid, meter, channel, (ts AT TIME ZONE 'America/Chicago')::date, count(*), sum(kwh),
           count(*) FILTER (WHERE quality = 'estimated')
    FROM smt_interval GROUP BY 1, 2, 3, 4
"""
_DAY_TOTALS_KEPT = "SELECT esiid, meter, channel, day, found, kwh, estimated FROM smt_interval_day"


def day_totals_drift() -> list[tuple]:
    """Rows where smt_interval_day differs from the totals recomputed from smt_interval, either way.

    Empty unless something wrote intervals with the triggers off (`session_replication_role =
    replica`, `ALTER TABLE ... DISABLE TRIGGER`); a full scan of smt_interval, for operators.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"({_DAY_TOTALS_KEPT} EXCEPT {_DAY_TOTALS_SQL}) UNION ALL ({_DAY_TOTALS_SQL} EXCEPT {_DAY_TOTALS_KEPT})"
        )
        return cursor.fetchall()


def day_totals_rebuild() -> int:
    """Recompute smt_interval_day from smt_interval in one transaction; returns its row count."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("LOCK TABLE smt_interval IN SHARE MODE")  # no writes while the totals are recomputed
        cursor.execute("DELETE FROM smt_interval_day")
        cursor.execute(
            f"INSERT INTO smt_interval_day (esiid, meter, channel, day, found, kwh, estimated) {_DAY_TOTALS_SQL}"
        )
        return cursor.rowcount


def _local_days(start: date, end: date) -> dict[date, tuple[datetime, datetime]]:
    """UTC [from, to) of every local day from start to end, from one midnight to the next."""
    result, lo = {}, local_midnight(start)
    for n in range((end - start).days + 1):
        day = start + timedelta(days=n)
        hi = local_midnight(day + timedelta(days=1))
        result[day], lo = (lo, hi), hi
    return result


def _gaps(*, esiid: str, meter: str | None, days: dict[date, tuple[datetime, datetime]]) -> dict[date, list[dict]]:
    """Missing consumption intervals of partly filled days, merged into [start, end) ranges."""
    if not days:
        return {}
    spans = list(days.values())
    if connection.vendor != "postgresql":
        ranges = reduce(operator.or_, (Q(ts__gte=lo, ts__lt=hi) for lo, hi in spans))
        present = set(
            intervals_for(esiid=esiid, meter=meter)
            .filter(ranges, channel=SmtInterval.Channel.CONSUMPTION)
            .values_list("ts", flat=True)
        )
        return _gap_ranges(days, present)
    # One index range scan per day on (esiid, ts); an OR of ranges would scan the whole year.
    meter_sql = " AND c.meter = %s" if meter else ""
    sql = (
        "SELECT c.ts FROM unnest(%s::timestamptz[], %s::timestamptz[]) AS d(lo, hi), LATERAL ("
        "SELECT ts FROM smt_interval c WHERE c.esiid = %s AND c.channel = %s AND c.ts >= d.lo AND c.ts < d.hi"
        # The constant outer bounds let the planner prune smt_interval's monthly partitions.
        f" AND c.ts >= %s AND c.ts < %s{meter_sql} OFFSET 0) AS c"  # OFFSET 0: keeps the per-day scan from being flattened into one
    )
    params = [
        [lo for lo, _ in spans],
        [hi for _, hi in spans],
        esiid,
        SmtInterval.Channel.CONSUMPTION,
        min(lo for lo, _ in spans),
        max(hi for _, hi in spans),
        *([meter] if meter else []),
    ]
    with _reading().cursor() as cursor:
        cursor.execute(sql, params)
        present = {ts for (ts,) in cursor.fetchall()}
    return _gap_ranges(days, present)


def _gap_ranges(days: dict[date, tuple[datetime, datetime]], present: set[datetime]) -> dict[date, list[dict]]:
    result = {}
    for day, (begin, end) in days.items():
        ranges, slot, open_at = [], begin, None
        while slot <= end:
            missing = slot < end and slot not in present
            if missing and open_at is None:
                open_at = slot
            elif not missing and open_at is not None:
                ranges.append({"start": _iso(open_at), "end": _iso(slot), "intervals": int((slot - open_at) / STEP)})
                open_at = None
            slot += STEP
        result[day] = ranges
    return result


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def portfolio(*, days: int, today: date) -> list[dict]:
    """Every ESIID with its completeness over the last `days` local days, worst first."""
    start = today - timedelta(days=days)
    end = today - timedelta(days=1)
    begin, finish = day_bounds(start, end)
    expected = sum(expected_intervals(start + timedelta(days=n)) for n in range(days))
    rows = (
        SmtInterval.objects.filter(ts__gte=begin, ts__lt=finish, channel=SmtInterval.Channel.CONSUMPTION)
        .values("esiid")
        .annotate(found=Count("id"), kwh=Sum("kwh"), last=Max("ts"))
    )
    seen = {row["esiid"]: row for row in rows}
    everyone = SmtInterval.objects.values_list("esiid", flat=True).distinct()
    result = []
    for esiid in everyone:
        row = seen.get(esiid, {"found": 0, "kwh": Decimal(0), "last": None})
        result.append(
            {
                "esiid": esiid,
                "expected": expected,
                "found": row["found"],
                "completeness": round(min(row["found"], expected) / expected, 4) if expected else 0,
                "kwh": float(row["kwh"] or 0),
                "last": row["last"],
            }
        )
    return sorted(result, key=lambda r: (r["completeness"], r["esiid"]))


# ---------------------------------------------------------------- deletion


def _deletion_rows(*, esiid: str, meter: str, start: datetime, end: datetime) -> QuerySet:
    if not esiid or not meter:
        raise ValidationError("esiid and meter are required")
    if start is None or end is None:
        raise ValidationError("dateStart and dateEnd are required: an unbounded range is refused")
    if end <= start:
        raise ValidationError("dateEnd must be after dateStart")
    return SmtInterval.objects.filter(esiid=esiid, meter=meter, ts__gte=start, ts__lt=end)


def intervals_delete_preview(*, esiid: str, meter: str, start: datetime, end: datetime) -> dict:
    rows = _deletion_rows(esiid=esiid, meter=meter, start=start, end=end)
    stats = rows.aggregate(count=Count("id"), kwh=Sum("kwh"), first=Min("ts"), last=Max("ts"))
    stats["rawFileIds"] = sorted(set(rows.exclude(raw_file=None).values_list("raw_file_id", flat=True)))
    return stats


def intervals_delete(
    *, esiid: str, meter: str, start: datetime, end: datetime, reason: str = "", actor: str, user=None
) -> IntervalDeletion:
    """Delete a bounded range and record it; the raw files stay, so re-normalizing rebuilds it."""
    with transaction.atomic():
        rows = _deletion_rows(esiid=esiid, meter=meter, start=start, end=end)
        raw_ids = sorted(set(rows.exclude(raw_file=None).values_list("raw_file_id", flat=True)))
        count, _ = rows.delete()
        return IntervalDeletion.objects.create(
            deleted_by=user,
            actor=actor,
            esiid=esiid,
            meter=meter,
            range_start=start,
            range_end=end,
            deleted_count=count,
            reason=reason[:2000],
            raw_file_ids=raw_ids,
        )


# ---------------------------------------------------------------- backfill


def backfill_usage(*, esiid: str, days: int, limit: int, now: datetime) -> dict:
    """The newest `days` of intervals for an ESIID, oldest first, at most `limit` rows."""
    since = now - timedelta(days=days)
    rows = SmtInterval.objects.filter(esiid=esiid, ts__gte=since, ts__lt=now).order_by("ts", "meter", "channel")
    totals = rows.filter(channel=SmtInterval.Channel.CONSUMPTION).aggregate(count=Count("id"), kwh=Sum("kwh"))
    total_rows = rows.count()
    data = [interval_json(r) for r in rows[:limit]]
    consumption = sum(
        (Decimal(str(d["kwh"])) for d in data if d["channel"] == SmtInterval.Channel.CONSUMPTION), Decimal(0)
    )
    truncated = total_rows > len(data)
    summary = {
        "count": len(data),
        "totalKwh": float(consumption),
        "tsMin": data[0]["ts"] if data else None,
        "tsMax": data[-1]["ts"] if data else None,
        "truncated": truncated,
    }
    if truncated:
        summary["note"] = (
            f"limit {limit} cut {total_rows - len(data)} of {total_rows} intervals; totalKwh covers the returned data only"
        )
        summary["fullCount"] = total_rows
        summary["fullTotalKwh"] = float(totals["kwh"] or 0)
    return {"data": data, "summary": summary}


def interval_json(row: SmtInterval) -> dict:
    return {
        "esiid": row.esiid,
        "meter": row.meter,
        "channel": row.channel,
        "ts": _iso(row.ts),
        "kwh": float(row.kwh),
        "quality": row.quality,
        "rawFileId": row.raw_file_id,
    }
