"""Stored intervals of one ESIID out as a Green Button (ESPI XML) feed, streamed.

The range is in Central local days, as the usage pages show them; the feed is written by
smt.greenbutton piece by piece while the rows stream from the database, so a year of one
ESIID never sits in memory. Importing the feed again gives the same intervals.
"""

from collections.abc import Iterator
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

from config.texas import CENTRAL
from smt import greenbutton, parser, usage
from smt.models import SmtInterval

MAX_DAYS = usage.MAX_SUMMARY_DAYS  # the staff usage page's longest range
DEFAULT_DAYS = 30
ROWS_PER_FETCH = 5000


def greenbutton_export_range(*, start: str = "", end: str = "", today: date | None = None) -> tuple[date, date]:
    """The Central days `start`..`end` (ISO dates, `end` included) of an export request.

    Without `end`, yesterday (today is still arriving); without `start`, DEFAULT_DAYS before
    `end`. Raises ValidationError naming the parameter.
    """
    today = today or timezone.localdate(timezone=CENTRAL)
    last = _day(end, "end") or today - timedelta(days=1)
    first = _day(start, "start") or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise ValidationError(f"start {first.isoformat()} is after end {last.isoformat()}")
    if (last - first).days + 1 > MAX_DAYS:
        raise ValidationError(f"the range is {(last - first).days + 1} days; at most {MAX_DAYS} days per download")
    return first, last


def _day(value: str, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{name}: {value!r} is not a date (YYYY-MM-DD)") from None


def greenbutton_export_rows(*, esiid: str, start: datetime, end: datetime) -> Iterator[parser.Row]:
    """The stored intervals of `esiid` in [start, end), sorted by (channel, ts) as the writer needs.

    An ESIID stored under two meter names has two rows per instant; the feed holds one reading
    per instant, so the first meter in name order is kept.
    """
    rows = (
        SmtInterval.objects.filter(esiid=esiid, ts__gte=start, ts__lt=end)
        .order_by("channel", "ts", "meter")
        .values_list("channel", "ts", "kwh", "quality")
    )
    last = None
    for channel, ts, kwh, quality in rows.iterator(chunk_size=ROWS_PER_FETCH):
        key = (channel, int(ts.timestamp()))
        if key == last:
            continue
        last = key
        yield parser.Row(esiid, channel, key[1], int(kwh * 1000), quality, None, 0)


def greenbutton_export(*, esiid: str, first: date, last: date) -> Iterator[bytes]:
    """The ESPI feed of `esiid` for the Central days first..last, piece by piece."""
    start, end = usage.day_bounds(first, last)
    rows = greenbutton_export_rows(esiid=esiid, start=start, end=end)
    return greenbutton.greenbutton_chunks(rows, esiid=esiid, start=start, end=end)


def greenbutton_export_filename(*, esiid: str, first: date, last: date) -> str:
    return f"green-button-{esiid}-{first.isoformat()}-{last.isoformat()}.xml"
