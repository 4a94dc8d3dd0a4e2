"""DailyMeterUsage files into SmtBillingRead rows (daily register reads).

The real header has not been seen in public (../shared/formats/SMT.md §4), so columns are
found by name with aliases (trimmed, case-insensitive, `_` ignored). An unknown header fails
the file with the columns it did find; the raw file is kept for when the real header is known.
Register values are stored as given: kWh is never derived from the readings.
"""

import csv
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import BinaryIO

from django.db import transaction
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate

from smt import parser
from smt.models import RawSmtFile, SmtBillingRead, SmtInterval
from smt.usage import day_bounds

ALIASES = {
    "esiid": ("ESIID",),
    "read_date": ("USAGEDATE", "READDATE", "METERREADDATE", "DATE"),
    "start": ("STARTREADING",),
    "end": ("ENDREADING",),
    "kwh": ("USAGEKWH", "ENERGYDATAKWH", "READING", "KWH"),
    "revision": ("REVISIONDATE",),
    "meter": ("METER", "METERID", "METERNUMBER"),
}
REQUIRED = ("esiid", "read_date", "kwh")
KNOWN_FORMS = "ESIID; USAGE_DATE/READ_DATE/readDate/date; USAGE_KWH/ENERGY_DATA_KWH/energyDataKwh/reading"


@dataclass(frozen=True)
class BillingHeader:
    columns: dict  # field -> index
    line: int


@dataclass(frozen=True)
class BillingRow:
    esiid: str
    meter: str
    read_date: date
    revised_at: datetime | None
    start: Decimal | None
    end: Decimal | None
    kwh: Decimal
    row: int


def _key(name: str) -> str:
    return name.strip().strip('"').replace("_", "").replace(" ", "").upper()


def billing_header_find(lines) -> BillingHeader:
    """The header line among the first lines, by alias; raises FileRejected naming what was found."""
    found = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        cells = [_key(cell) for cell in next(csv.reader([line]))]
        columns = {}
        for field, names in ALIASES.items():
            index = next((cells.index(name) for name in names if name in cells), None)
            if index is not None:
                columns[field] = index
        if all(field in columns for field in REQUIRED):
            return BillingHeader(columns, number)
        found = found or line.strip()[:300]
        if number >= parser.HEADER_SEARCH_LINES:
            break
    raise parser.FileRejected(
        f"unrecognized DailyMeterUsage header; columns found: {found!r}; expected names like {KNOWN_FORMS}. "
        "The raw file is kept: add the real column names to smt/billing.py ALIASES and normalize it again."
    )


def _decimal(text: str) -> Decimal | None:
    text = text.strip().replace(",", "")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not a number")
    return value.quantize(Decimal("0.001"))


def _row(
    record: list[str], header: BillingHeader, number: int, default_meter: str, *, last_day: date, revision_limit: int
) -> BillingRow:
    cols = header.columns
    esiid = parser.parse_esiid(record[cols["esiid"]])
    if esiid is None:
        raise ValueError(f"ESIID {record[cols['esiid']].strip()!r} is not 17 or 22 digits")
    read_date = parser.parse_date(record[cols["read_date"]])
    if read_date is None:
        raise ValueError(f"read date {record[cols['read_date']].strip()!r} is not M/D/YYYY or YYYY-MM-DD")
    if problem := parser.day_problem(read_date, last=last_day, column="read date"):
        raise ValueError(problem)
    revised = None
    if "revision" in cols and record[cols["revision"]].strip():
        epoch = parser.parse_revision(record[cols["revision"]])
        if epoch is None:
            raise ValueError(f"revision date {record[cols['revision']].strip()!r} is not a date and time")
        if problem := parser.revision_problem(epoch, limit=revision_limit):
            raise ValueError(problem)
        revised = datetime.fromtimestamp(epoch, tz=UTC)
    kwh = _decimal(record[cols["kwh"]])
    if kwh is None:
        raise ValueError("kWh is empty")
    meter = record[cols["meter"]].strip() if "meter" in cols else ""
    start = _decimal(record[cols["start"]]) if "start" in cols else None
    end = _decimal(record[cols["end"]]) if "end" in cols else None
    return BillingRow(esiid, meter or default_meter, read_date, revised, start, end, kwh, number)


def billing_rows_parse(fileobj: BinaryIO, *, default_meter: str = "unknown") -> tuple[list[BillingRow], dict]:
    """Every valid row of a DailyMeterUsage CSV plus the bad ones by line. Raises FileRejected."""
    lines = parser.text_lines(fileobj, "")
    header = billing_header_find(lines)
    rows, errors = [], {}
    width = max(header.columns.values()) + 1
    last_day, revision_limit = parser.last_plausible_day(), parser.revision_limit()
    for offset, record in enumerate(csv.reader(lines)):
        number = header.line + 1 + offset
        if not record or not any(cell.strip() for cell in record):
            continue
        if len(record) < width:
            errors[number] = f"row has {len(record)} fields, expected at least {width}"
            continue
        try:
            rows.append(_row(record, header, number, default_meter, last_day=last_day, revision_limit=revision_limit))
        except ValueError as exc:
            errors[number] = str(exc)
    return rows, errors


def _newer(incoming: datetime | None, current: datetime | None) -> bool:
    if incoming is None:
        return False
    return current is None or incoming > current


def billing_reads_ingest(*, raw_file: RawSmtFile, fileobj: BinaryIO) -> dict:
    """Upsert the file's reads; the latest revision wins per (ESIID, meter, read date).

    Returns stats: rowsRead, validRows, billingReadsInserted, billingReadsUpdated,
    duplicatesSkipped, invalidCount and the first invalid rows. Raises FileRejected when no row is valid.
    """
    rows, errors = billing_rows_parse(fileobj, default_meter=raw_file.meter_hint or "unknown")
    if not rows:
        first = next(iter(errors.items()), None)
        raise parser.FileRejected(
            "no valid billing row" + (f"; line {first[0]}: {first[1]}" if first else " after the header")
        )
    winners: dict = {}
    for row in rows:  # within the file: newest revision, then the later row
        key = (row.esiid, row.meter, row.read_date)
        if key not in winners or not _newer(winners[key].revised_at, row.revised_at):
            winners[key] = row
    inserted = updated = 0
    with transaction.atomic():
        current = {
            (r.esiid, r.meter, r.read_date): r
            for r in SmtBillingRead.objects.select_for_update().filter(
                esiid__in={k[0] for k in winners}, read_date__in={k[2] for k in winners}
            )
        }
        for key, row in winners.items():
            fields = {
                "revised_at": row.revised_at,
                "start_reading": row.start,
                "end_reading": row.end,
                "kwh": row.kwh,
                "raw_file": raw_file,
                "row_number": row.row,
            }
            existing = current.get(key)
            if existing is None:
                SmtBillingRead.objects.create(esiid=row.esiid, meter=row.meter, read_date=row.read_date, **fields)
                inserted += 1
            elif _newer(row.revised_at, existing.revised_at):
                SmtBillingRead.objects.filter(pk=existing.pk).update(**fields)
                updated += 1
    return {
        "rowsRead": len(rows) + len(errors),
        "validRows": len(rows),
        "billingReadsInserted": inserted,
        "billingReadsUpdated": updated,
        "duplicatesSkipped": len(rows) - inserted - updated,
        "invalidCount": len(errors),
        "invalid": {
            "billing": {
                "count": len(errors),
                "rows": [str(n) for n in list(errors)[:10]],
                "messages": list(errors.values())[:10],
            }
        }
        if errors
        else {},
    }


def billing_reads_compare(reads) -> dict:
    """For each read: the day's consumption intervals (all meters of the ESIID) and the difference.

    Returns {read pk: {"interval", "count", "kwh" (interval - billing), "big"}}; reads whose
    day has no interval are left out. "big" means more than 1 kWh or 2 % of the read.
    """
    reads = list(reads)
    if not reads:
        return {}
    begin, end = day_bounds(min(r.read_date for r in reads), max(r.read_date for r in reads))
    sums = {
        (row["esiid"], row["day"]): row
        for row in SmtInterval.objects.filter(
            esiid__in={r.esiid for r in reads}, channel=SmtInterval.Channel.CONSUMPTION, ts__gte=begin, ts__lt=end
        )
        .annotate(day=TruncDate("ts", tzinfo=parser.CENTRAL))
        .values("esiid", "day")
        .annotate(kwh=Sum("kwh"), n=Count("id"))
    }
    result = {}
    for read in reads:
        found = sums.get((read.esiid, read.read_date))
        if found is None:
            continue
        difference = found["kwh"] - read.kwh
        big = abs(difference) > Decimal(1) or abs(difference) > abs(read.kwh) * Decimal("0.02")
        result[read.pk] = {"interval": found["kwh"], "count": found["n"], "kwh": difference, "big": big}
    return result
