"""Synthetic SMT interval files for demos and benchmarks, in the real portal-export layout."""

import hashlib
import math
import random
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import BinaryIO

from config.texas import CENTRAL
from smt.parser import EXPECTED_HEADER

DEMO_ESIIDS = ["10443720000000101", "10443720000000102", "10443720000000103"]


def _labels(day: date) -> Iterator[tuple[str, str, bool]]:
    """(start, end, blank) labels for one local day, as SMT writes them around DST."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=CENTRAL)
    offsets = {midnight.utcoffset(), datetime(day.year, day.month, day.day, 23, 59, tzinfo=CENTRAL).utcoffset()}
    fall = len(offsets) == 2 and midnight.utcoffset() > datetime(day.year, day.month, day.day, 23, 59, tzinfo=CENTRAL).utcoffset()
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


def interval_csv_write(handle: BinaryIO, *, esiids: list[str], start: date, days: int, seed: int = 1,
                       skip: Callable[[str], bool] | None = None) -> tuple[str, int]:
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
