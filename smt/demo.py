"""Synthetic SMT interval files for demos and benchmarks, in the real portal-export layout,
and `smt_demo_load`, the SMT part of `load_demo_data`."""

import functools
import hashlib
import math
import random
import tempfile
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import BinaryIO, TextIO

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from config.texas import CENTRAL
from ops.demo import DEMO_ESIIDS
from smt import normalize, storage
from smt.models import House, RawSmtFile
from smt.parser import EXPECTED_HEADER


def _labels(day: date) -> Iterator[tuple[str, str, bool]]:
    """(start, end, blank) labels for one local day, as SMT writes them around DST."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=CENTRAL)
    offsets = {midnight.utcoffset(), datetime(day.year, day.month, day.day, 23, 59, tzinfo=CENTRAL).utcoffset()}
    fall = (
        len(offsets) == 2
        and midnight.utcoffset() > datetime(day.year, day.month, day.day, 23, 59, tzinfo=CENTRAL).utcoffset()
    )
    spring = len(offsets) == 2 and not fall
    slots = [(q * 15, q * 15 + 15) for q in range(96)]
    if fall:  # the repeated hour: the first row of the repeat is labelled "02:00,01:15"
        slots = slots[:8] + [(120, 75), (75, 90), (90, 105), (105, 120)] + slots[8:]
    for start, end in slots:
        blank = spring and 120 <= start < 180
        yield f"{start // 60:02d}:{start % 60:02d}", f"{end // 60 % 24:02d}:{end % 60:02d}", blank


def interval_csv_lines(*, esiids: list[str], start: date, days: int, seed: int = 1) -> Iterator[str]:
    """A deterministic year-like load shape: evening peaks, summer AC, some estimated blocks."""
    rng = random.Random(seed)
    yield EXPECTED_HEADER + "\n"
    for esiid in esiids:
        base = 0.15 + (int(esiid[-2:]) % 7) * 0.03
        for n in range(days):
            day = start + timedelta(days=n)
            revision = (day + timedelta(days=1)).strftime("%m/%d/%Y") + " 07:12:44"
            summer = 1 + 0.9 * max(0.0, math.sin((day.timetuple().tm_yday - 100) / 365 * 2 * math.pi))
            estimated_from = rng.randrange(0, 400) if rng.random() < 0.04 else -1
            for index, (s, e, blank) in enumerate(_labels(day)):
                if blank:
                    yield f"'{esiid},{day:%m/%d/%Y},{revision},{s},{e},,,Consumption\n"
                    continue
                hour = int(s[:2])
                shape = 1 + 0.8 * math.exp(-((hour - 19) ** 2) / 8) + 0.3 * math.exp(-((hour - 8) ** 2) / 4)
                kwh = base * shape * summer * (0.8 + 0.4 * rng.random())
                flag = "E" if 0 <= estimated_from <= index < estimated_from + 16 else "A"
                yield f"'{esiid},{day:%m/%d/%Y},{revision},{s},{e},{kwh:.3f},{flag},Consumption\n"


def interval_csv_write(
    handle: BinaryIO,
    *,
    esiids: list[str],
    start: date,
    days: int,
    seed: int = 1,
    skip: Callable[[str], bool] | None = None,
) -> tuple[str, int]:
    """Write interval_csv_lines (less the lines `skip` drops) to a binary file; returns (sha256, size)."""
    digest, size, chunk = hashlib.sha256(), 0, []
    for line in interval_csv_lines(esiids=esiids, start=start, days=days, seed=seed):
        if skip is not None and skip(line):
            continue
        chunk.append(line)
        if len(chunk) >= 10_000:
            size += _write_chunk(handle, digest, chunk)
            chunk = []
    size += _write_chunk(handle, digest, chunk)
    handle.seek(0)
    return digest.hexdigest(), size


def _write_chunk(handle: BinaryIO, digest, lines: list[str]) -> int:
    data = "".join(lines).encode()
    digest.update(data)
    handle.write(data)
    return len(data)


def _demo_gap(line: str, *, esiid: str, end: date) -> bool:
    """Leave realistic holes so completeness has something to show: one meter loses an
    afternoon three weeks ago, another a whole day last month."""
    fields = line.split(",")
    if len(fields) < 4 or not fields[1][:1].isdigit():
        return False
    if esiid.endswith("2"):
        return fields[1] == (end - timedelta(days=21)).strftime("%m/%d/%Y") and "12:00" <= fields[3] < "16:00"
    if esiid.endswith("3"):
        return fields[1] == (end - timedelta(days=40)).strftime("%m/%d/%Y")
    return False


def smt_demo_load(*, stdout: TextIO, days: int = 365) -> None:
    """Store and normalize `days` of demo intervals per demo ESIID through the real ingest path,
    and a demo customer owning the first meter; idempotent (the same bytes are stored once)."""
    # The days up to yesterday, so every page has recent data; the same bytes (and sha256)
    # all day, so a second run the same day stores nothing new.
    start = timezone.localdate(timezone=CENTRAL) - timedelta(days=days)
    for esiid in DEMO_ESIIDS:
        with tempfile.TemporaryFile() as handle:
            end = start + timedelta(days=days)
            sha256, size = interval_csv_write(
                handle,
                esiids=[esiid],
                start=start,
                days=days,
                seed=int(esiid[-3:]),
                skip=functools.partial(_demo_gap, esiid=esiid, end=end),
            )
            stored = storage.raw_file_store(
                fileobj=handle,
                sha256=sha256,
                size=size,
                filename=f"IntervalData-demo-{esiid}-{start.year}.csv",
                source="demo",
                esiid=esiid,
                meter="DEMO",
                kind="interval",
                uploader="demo",
                origin=RawSmtFile.Origin.COMMAND,
            )
        raw = stored.raw_file
        if stored.duplicate and raw.status == "normalized":
            stdout.write(f"demo data for {esiid}: already loaded (raw file {raw.pk})")
            continue
        stats = normalize.raw_file_normalize(raw_file=raw)
        stdout.write(f"demo data for {esiid}: {stats['intervalsInserted']} intervals, {stats['totalKwh']:.1f} kWh")
    # A demo customer owning the first meter, so the customer pages have something to show.
    call_command("ensure_admin", username="customer", customer=True, stdout=stdout)
    House.objects.get_or_create(
        customer=get_user_model().objects.get(username="customer"),
        esiid=DEMO_ESIIDS[0],
        defaults={"name": "Demo house, 1 Elm St", "meter": "DEMO"},
    )
