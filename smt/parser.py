"""Streaming reader for Smart Meter Texas 15-minute interval CSVs.

One module though over 350 lines: the container limits, the dialect sniffing and the row reader
share one budget and one error report per file, and split apart they would pass those around.

Reads every interval variant of ../shared/formats/SMT.md (portal export, e-mail file,
spreadsheet re-save, legacy ISO dialect) inside plain, zip or gzip containers. Rows come out
one at a time as plain tuples; memory does not grow with the file, except for small caches
keyed by calendar date.
"""

import csv
import gzip
import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, BinaryIO, NamedTuple

from config.texas import CENTRAL, parse_esiid

EXPECTED_HEADER = (
    "ESIID,USAGE_DATE,REVISION_DATE,USAGE_START_TIME,USAGE_END_TIME,USAGE_KWH,"
    "ESTIMATED_ACTUAL,CONSUMPTION_SURPLUSGENERATION"
)
REQUIRED = ("ESIID", "USAGE_DATE", "USAGE_START_TIME", "USAGE_END_TIME", "USAGE_KWH", "ESTIMATED_ACTUAL")
CHANNEL_COLUMNS = ("CONSUMPTION_SURPLUSGENERATION", "CONSUMPTION_GENERATION")
BILLING_MARKERS = ("READ_DATE", "METER_READ_DATE", "STARTREADING", "START_READING")
CHANNELS = {"consumption": "consumption", "surplus generation": "generation", "generation": "generation"}
QUALITY = {"A": "actual", "E": "estimated", "": "unknown"}
ERROR_ROWS_KEPT = 10
HEADER_SEARCH_LINES = 20
MAX_LINE_CHARS = 64 * 1024
ZIP_MAX_MEMBERS = 1000
ZIP_MAX_RATIO = 200
CONTAINER_MAX_BYTES = 8 * 1024**3
# What zipfile can read; others (Deflate64 is method 9) fail only once a member is opened.
ZIP_METHODS = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
}
# How a damaged gzip or zip body shows itself while it is read: each becomes a FileRejected.
DAMAGED = (OSError, EOFError, zlib.error, zipfile.BadZipFile)
_KWH = re.compile(r"^\d*\.?\d*$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST_PLAUSIBLE_EPOCH = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp())
# The plausible window for SMT dates: smart-meter data starts well after 2000, and nothing SMT
# sends can be dated after tomorrow (Central). Years below 1000 would otherwise be misread by
# the COPY path ("1-06-01" is 2001-06-01 to PostgreSQL).
FIRST_PLAUSIBLE_DAY = date(2000, 1, 1)
REVISION_AHEAD = timedelta(days=1)  # clock skew and an unstated zone, not a date in the future
CACHE_ENTRIES = 50_000  # per field cache; cleared when full, so memory stays flat
_MISSING = object()


class FileRejected(ValueError):
    """The whole file is unusable; the message says what was expected."""


class FileDamaged(FileRejected):
    """A container that cannot be read to its end; unlike an odd member, it sinks the whole file."""


@dataclass
class ParseStats:
    rows_read: int = 0
    valid: int = 0
    dst_gap_skipped: int = 0
    consumption_wh: int = 0
    generation_wh: int = 0
    ts_min: int | None = None
    ts_max: int | None = None
    invalid: dict = field(default_factory=dict)
    # What was undone or decided on the way (smt.spreadsheet fixes, Green Button notes), in words.
    spreadsheet_fixes: list = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Processes that parsed the rows (smt.parallel_parse), 1 when read serially. It says how the
    # file was read, not what it holds, so two reads of one file compare equal whatever it is.
    parse_workers: int = field(default=1, compare=False)

    def add_error(self, kind: str, row: str, message: str) -> None:
        entry = self.invalid.setdefault(kind, {"count": 0, "rows": [], "messages": []})
        entry["count"] += 1
        if len(entry["rows"]) < ERROR_ROWS_KEPT:
            entry["rows"].append(row)
            entry["messages"].append(message)

    def reset(self) -> None:
        """Back to zero, for a second pass over the same file."""
        self.__dict__.update(ParseStats().__dict__)

    def notes_all(self) -> list[str]:
        """The notes for the result: Green Button decisions, then each member's spreadsheet fixes."""
        said = list(self.notes)
        for fixes in self.spreadsheet_fixes:
            said.extend(message for message in fixes.messages() if message not in said)
        return said

    @property
    def invalid_count(self) -> int:
        return sum(entry["count"] for entry in self.invalid.values())

    def no_rows_message(self) -> str:
        """Why a file with no valid row is refused: its first errors by kind, or a missing body."""
        if not self.invalid:
            return f"no data rows after the header; expected rows like {EXPECTED_HEADER}"
        kinds = ", ".join(
            f"{kind}: {e['count']} (first at line {e['rows'][0]}: {e['messages'][0]})"
            for kind, e in self.invalid.items()
        )
        return f"no valid interval row; invalid rows by kind: {kinds}"


class Row(NamedTuple):
    """One valid interval. A tuple: a year for 50 ESIIDs is 1.75 M of them, made one by one."""

    esiid: str
    channel: str
    ts: int  # interval start, seconds since the epoch (UTC)
    wh: int  # energy in watt-hours (SMT gives kWh with 3 decimals)
    quality: str
    revised: int | None  # REVISION_DATE, seconds since the epoch; None when the dialect has none
    row: int  # line number within its file or member (header = 1)


# ---------------------------------------------------------------- containers


class ContentBudget:
    """Bytes one read of a file may produce, all members together, once decompressed.

    Untrusted uploads are read whole before they are accepted; without a budget a small gzip
    of invalid rows can hold a web worker for minutes. `why` names the settings behind it.
    """

    def __init__(self, limit: int, why: str = ""):
        self.limit, self.why, self.used = limit, why, 0

    def charge(self, count: int) -> None:
        self.used += count
        if self.used > self.limit:
            why = f" ({self.why})" if self.why else ""
            raise FileRejected(f"content expands past {self.limit} bytes{why}; refusing a compression bomb")


class _CappedReader(io.RawIOBase):
    """Counts decompressed bytes and stops at a limit: the sizes a zip declares can lie."""

    def __init__(self, inner: BinaryIO, limit: int, what: str, budget: ContentBudget | None = None):
        self.inner, self.limit, self.what, self.count, self.budget = inner, limit, what, 0, budget

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self.inner.read(len(buffer))
        except DAMAGED as exc:
            raise FileDamaged(
                f"{self.what} is damaged and cannot be read ({exc}); send the file again, uncorrupted"
            ) from None
        self.count += len(data)
        if self.count > self.limit:
            raise FileRejected(f"{self.what} expands past {self.limit} bytes; refusing a compression bomb")
        if self.budget is not None:
            self.budget.charge(len(data))
        buffer[: len(data)] = data
        return len(data)


class _KeepOpen(io.RawIOBase):
    """Reads through to a caller's file without closing it when our wrappers are dropped."""

    def __init__(self, inner: BinaryIO, budget: ContentBudget | None = None):
        self.inner, self.budget = inner, budget

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.inner.read(len(buffer))
        if self.budget is not None:
            self.budget.charge(len(data))
        buffer[: len(data)] = data
        return len(data)


def safe_member_name(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return bool(name) and not name.startswith(("/", "\\")) and ".." not in parts and ":" not in parts[0]


def zip_members(fileobj: BinaryIO) -> list[zipfile.ZipInfo]:
    """The file members of a zip, after checking names, count and compression ratio."""
    try:
        archive = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, OSError) as exc:
        raise FileRejected(f"not a readable zip archive ({exc})") from None
    infos = [info for info in archive.infolist() if not info.is_dir()]
    if len(infos) > ZIP_MAX_MEMBERS:
        raise FileRejected(f"zip has {len(infos)} members; at most {ZIP_MAX_MEMBERS} are accepted")
    total = 0
    for info in infos:
        if not safe_member_name(info.filename):
            raise FileRejected(f"zip member {info.filename!r} has an unsafe path (absolute or '..')")
        if info.flag_bits & 0x1:
            raise FileRejected(f"zip member {info.filename!r} is encrypted; send the archive without a password")
        if info.compress_type not in ZIP_METHODS:
            raise FileRejected(
                f"zip member {info.filename!r} uses compression method {info.compress_type}; "
                f"accepted: {', '.join(ZIP_METHODS.values())}"
            )
        if info.compress_size and info.file_size / info.compress_size > ZIP_MAX_RATIO:
            raise FileRejected(f"zip member {info.filename!r} has a compression ratio above {ZIP_MAX_RATIO}:1")
        total += info.file_size
    if total > CONTAINER_MAX_BYTES:
        raise FileRejected(f"zip expands to {total} bytes; at most {CONTAINER_MAX_BYTES} are accepted")
    if not infos:
        raise FileRejected("zip archive is empty; expected at least one SMT CSV member")
    archive.close()
    return infos


def open_members(fileobj: BinaryIO, budget: ContentBudget | None = None) -> Iterator[tuple[str, BinaryIO]]:
    """Yield (member name, binary stream) for a plain file, each zip member, or a gzip body.

    Damaged containers raise FileRejected as they are read; `budget` caps the bytes read in all.
    """
    head = fileobj.read(4)
    fileobj.seek(0)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        infos = zip_members(fileobj)
        fileobj.seek(0)
        with zipfile.ZipFile(fileobj) as archive:
            for info in infos:
                limit = min(info.file_size, CONTAINER_MAX_BYTES)
                try:
                    member = archive.open(info)
                except (*DAMAGED, RuntimeError, NotImplementedError) as exc:
                    raise FileDamaged(f"zip member {info.filename!r} cannot be opened ({exc})") from None
                with member:
                    yield (
                        info.filename,
                        io.BufferedReader(_CappedReader(member, limit, f"zip member {info.filename!r}", budget)),
                    )
    elif head.startswith(b"\x1f\x8b"):
        yield (
            "",
            io.BufferedReader(_CappedReader(gzip.GzipFile(fileobj=fileobj), CONTAINER_MAX_BYTES, "gzip body", budget)),
        )
    else:
        yield "", io.BufferedReader(_KeepOpen(fileobj, budget))


class _HeadThen(io.RawIOBase):
    """A member stream with its first bytes read ahead, rewindable to the start while nothing
    past them has been read: smt.spreadsheet looks at the head, then reads from the start."""

    def __init__(self, head: bytes, inner: BinaryIO):
        self.head, self.inner, self.position = head, inner, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if (offset, whence) == (0, io.SEEK_CUR):
            return self.position
        if (offset, whence) != (0, io.SEEK_SET) or self.position > len(self.head):
            raise io.UnsupportedOperation("a member stream can only be rewound within its first bytes")
        self.position = 0
        return 0

    def readinto(self, buffer) -> int:
        if self.position < len(self.head):
            data = self.head[self.position : self.position + len(buffer)]
        else:
            data = self.inner.read(len(buffer))
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)


def csv_members(
    fileobj: BinaryIO, stats: ParseStats, budget: ContentBudget | None = None, *, expected_esiid: str | None = None
) -> Iterator[tuple[str, BinaryIO]]:
    """open_members, each member read as UTF-8 with commas whatever a spreadsheet saved it as.

    UTF-16 and tab-separated members are rewritten as they stream, and an ESIID in scientific
    notation is read as `expected_esiid` when its digits agree (smt.spreadsheet); what was
    undone is kept in `stats.spreadsheet_fixes` for the result. Raises FileRejected.
    """
    # Imported here: smt.spreadsheet imports FileRejected from this module.
    from smt.spreadsheet import HEAD_BYTES, spreadsheet_open

    for member, stream in open_members(fileobj, budget):
        raw = _HeadThen(stream.read(HEAD_BYTES), stream)
        opened, fixes = spreadsheet_open(raw, expected_esiid=expected_esiid)
        if opened is raw:
            yield member, io.BufferedReader(raw)
            continue
        stats.spreadsheet_fixes.append(fixes)
        yield member, opened


def text_lines(stream: BinaryIO, member: str) -> Iterator[str]:
    """Decoded lines, refusing binary content and absurd line lengths with a clear message."""
    where = f"{member}: " if member else ""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
    lineno = 0
    try:
        while True:
            line = text.readline(MAX_LINE_CHARS + 1)
            if not line:
                return
            lineno += 1
            if "\x00" in line:
                raise FileRejected(
                    f"{where}binary content at line {lineno}; expected a CSV text file with header {EXPECTED_HEADER}"
                )
            if len(line) > MAX_LINE_CHARS and not line.endswith("\n"):
                raise FileRejected(f"{where}line {lineno} is longer than {MAX_LINE_CHARS} characters; not an SMT CSV")
            yield line
    except UnicodeDecodeError:
        raise FileRejected(
            f"{where}binary or non-UTF-8 content near line {lineno + 1}; expected a CSV text file with header {EXPECTED_HEADER}"
        ) from None


# ---------------------------------------------------------------- header


@dataclass(frozen=True)
class Header:
    kind: str  # interval / billing
    columns: dict  # upper-case name -> index
    line: int


def find_header(lines: Iterator[str], member: str = "") -> Header:
    """Read up to the header line, found by column names (trimmed, case-insensitive)."""
    first_seen = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        cells = [cell.strip().strip('"').upper() for cell in next(csv.reader([line]))]
        first_seen = first_seen or line.strip()[:200]
        columns = {name: index for index, name in enumerate(cells) if name}
        if all(name in columns for name in REQUIRED):
            return Header("interval", columns, number)
        if "ESIID" in columns and any(marker in columns for marker in BILLING_MARKERS):
            return Header("billing", columns, number)
        if number >= HEADER_SEARCH_LINES:
            break
    where = f"{member}: " if member else ""
    if first_seen is None:
        raise FileRejected(f"{where}file is empty; expected a CSV with header {EXPECTED_HEADER}")
    raise FileRejected(f"{where}no SMT interval header found (first line: {first_seen!r}); expected {EXPECTED_HEADER}")


# ---------------------------------------------------------------- values


def parse_kwh_wh(value: str) -> int | None:
    """kWh text to integer Wh; SMT files carry at most 3 decimals (Wh resolution)."""
    value = value.strip()
    if not value or not _KWH.match(value) or value == ".":
        return None
    whole, _, frac = value.partition(".")
    if len(frac) <= 3:
        return int(whole or "0") * 1000 + int((frac + "000")[:3])
    try:
        return int((Decimal(value) * 1000).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    except InvalidOperation:
        return None


def parse_date(value: str) -> date | None:
    value = value.strip()
    for fmt in ("%m/%d/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


def last_plausible_day(now: datetime | None = None) -> date:
    """Tomorrow in Central time: the latest USAGE_DATE or read date accepted."""
    return (now or datetime.now(UTC)).astimezone(CENTRAL).date() + timedelta(days=1)


def day_problem(day: date, *, last: date, column: str = "USAGE_DATE") -> str | None:
    """Why a service date is implausible, or None when it is inside the window."""
    if FIRST_PLAUSIBLE_DAY <= day <= last:
        return None
    return f"{column} {day.isoformat()} is outside {FIRST_PLAUSIBLE_DAY.isoformat()} .. {last.isoformat()} (Central)"


def revision_limit(now: datetime | None = None) -> int:
    """The latest REVISION_DATE accepted, seconds since the epoch."""
    return int(((now or datetime.now(UTC)) + REVISION_AHEAD).timestamp())


def revision_problem(epoch: int, *, limit: int) -> str | None:
    """Why a REVISION_DATE is refused: in the future (it would outrank every real revision) or before 2000."""
    if epoch > limit:
        return f"REVISION_DATE {epoch_iso(epoch)} is in the future; at most {epoch_iso(limit)} is accepted"
    if epoch < _FIRST_PLAUSIBLE_EPOCH:
        return f"REVISION_DATE {epoch_iso(epoch)} is before {FIRST_PLAUSIBLE_DAY.isoformat()}"
    return None


def _parse_minutes(value: str) -> int | None:
    match = _TIME.match(value.strip())
    if not match:
        return None
    hours, minutes = int(match[1]), int(match[2])
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        return None
    return hours * 60 + minutes


def parse_revision(value: str) -> int | None:
    value = value.strip()
    for fmt in ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            naive = datetime.strptime(value, fmt)
        except ValueError:
            continue
        # SMT does not state the zone; Central is presumed (SMT.md 2.2).
        return int(naive.replace(tzinfo=CENTRAL).timestamp())
    return None


def _parse_revision_or_blank(value: str) -> int | None | bool:
    """False for a blank REVISION_DATE (allowed), None for a bad one."""
    return parse_revision(value) if value.strip() else False


def _parse_channel(value: str) -> str | None:
    return CHANNELS.get(value.strip().lower())


def _parse_flag(value: str) -> str | None:
    return QUALITY.get(value.strip().upper())


@dataclass(frozen=True)
class Day:
    """What one local Central date needs for mapping wall times to UTC."""

    day: date
    midnight_utc: int  # epoch of local midnight
    offset_start: int  # UTC offset at midnight, seconds
    kind: str  # normal / spring / fall

    @classmethod
    def of(cls, day: date) -> "Day":
        midnight = datetime(day.year, day.month, day.day, tzinfo=CENTRAL)
        late = datetime(day.year, day.month, day.day, 23, 59, tzinfo=CENTRAL)
        start, end = midnight.utcoffset(), late.utcoffset()
        kind = "normal" if start == end else ("spring" if end > start else "fall")
        return cls(day, int(midnight.timestamp()), int(start.total_seconds()), kind)

    def epoch(self, minutes: int, fold: int = 0) -> int:
        if self.kind == "normal":
            return self.midnight_utc + minutes * 60
        wall = datetime(self.day.year, self.day.month, self.day.day, tzinfo=CENTRAL) + timedelta(minutes=minutes)
        return int(wall.replace(fold=fold).timestamp())


# ---------------------------------------------------------------- rows


class IntervalReader:
    """Turns the CSV rows of one member into Rows, recording bad rows in `stats`."""

    def __init__(self, header: Header, stats: ParseStats, member: str = ""):
        cols = header.columns
        self.i_esiid, self.i_date = cols["ESIID"], cols["USAGE_DATE"]
        self.i_start, self.i_end = cols["USAGE_START_TIME"], cols["USAGE_END_TIME"]
        self.i_kwh, self.i_flag = cols["USAGE_KWH"], cols["ESTIMATED_ACTUAL"]
        self.i_rev = cols.get("REVISION_DATE")
        self.i_channel = next((cols[name] for name in CHANNEL_COLUMNS if name in cols), None)
        self.width = max(cols.values()) + 1
        self.stats, self.prefix = stats, f"{member}:" if member else ""
        self.last_day, self.revision_limit = last_plausible_day(), revision_limit()
        self.days: dict[str, Day | None] = {}
        self.revisions: dict[str, int | None | bool] = {}
        self.esiids: dict[str, str | None] = {}
        self.channels: dict[str, str | None] = {}
        self.minutes: dict[str, int | None] = {}
        self.kwh: dict[str, int | None] = {}
        self.flags: dict[str, str | None] = {}
        # Fall-back days only: end labels of the 01:00-02:00 hour already seen, per ESIID-day-channel.
        self.fall_seen: dict[tuple, set] = {}

    def _day(self, text: str) -> Day | None:
        parsed = parse_date(text)
        return Day.of(parsed) if parsed else None

    def _line(self, number: int) -> str:
        return f"{self.prefix}{number}"

    def rows(self, records: Iterator[list[str]], first_line: int) -> Iterator[Row]:
        stats, width = self.stats, self.width
        for number, record in enumerate(records, first_line):
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            stats.rows_read += 1
            if len(record) < width:
                stats.add_error("truncated", self._line(number), f"row has {len(record)} fields, expected {width}")
                continue
            row = self._row(record, number)
            if row is not None:
                stats.valid += 1
                if row.channel == "consumption":
                    stats.consumption_wh += row.wh
                else:
                    stats.generation_wh += row.wh
                if stats.ts_min is None or row.ts < stats.ts_min:
                    stats.ts_min = row.ts
                if stats.ts_max is None or row.ts > stats.ts_max:
                    stats.ts_max = row.ts
                yield row

    def _row(self, record: list[str], number: int) -> Row | None:
        # Every field goes through a small cache keyed by its raw text: a year of intervals
        # repeats the same ESIIDs, dates, times, kWh values and flags over and over.
        cached = self.cached
        esiid = cached(self.esiids, record[self.i_esiid], parse_esiid)
        if esiid is None:
            return self._bad(number, "esiid", f"ESIID {record[self.i_esiid].strip()!r} is not 17 or 22 digits")
        channel = "consumption"
        if self.i_channel is not None:
            channel = cached(self.channels, record[self.i_channel], _parse_channel)
            if channel is None:
                return self._bad(number, "channel", f"unknown channel {record[self.i_channel].strip()!r}")
        day = cached(self.days, record[self.i_date], self._day)
        start = cached(self.minutes, record[self.i_start], _parse_minutes)
        end = cached(self.minutes, record[self.i_end], _parse_minutes)
        if day is None or start is None or end is None or start >= 24 * 60:
            return self._bad(
                number,
                "timestamp",
                "bad USAGE_DATE / start / end: "
                f"{record[self.i_date].strip()!r} {record[self.i_start].strip()!r} {record[self.i_end].strip()!r}",
            )
        if problem := day_problem(day.day, last=self.last_day):
            return self._bad(number, "date", problem)
        revised = None
        if self.i_rev is not None:
            revised = cached(self.revisions, record[self.i_rev], _parse_revision_or_blank)
            if revised is None:
                return self._bad(number, "timestamp", f"bad REVISION_DATE {record[self.i_rev].strip()!r}")
            revised = revised or None
            if revised is not None and (problem := revision_problem(revised, limit=self.revision_limit)):
                return self._bad(number, "date", problem)
        if day.kind == "spring" and 120 <= start < 180:
            # The hour that does not exist: SMT writes 4 blank rows. Skip them; a value there is an error.
            if record[self.i_kwh].strip() or record[self.i_flag].strip():
                return self._bad(number, "timestamp", "value on a spring-forward gap row (02:00-03:00 does not exist)")
            self.stats.dst_gap_skipped += 1
            return None
        wh = cached(self.kwh, record[self.i_kwh], parse_kwh_wh)
        if wh is None:
            return self._bad(number, "kwh", f"USAGE_KWH {record[self.i_kwh].strip()!r} is not a non-negative number")
        quality = cached(self.flags, record[self.i_flag], _parse_flag)
        if quality is None:
            return self._bad(
                number, "flag", f"ESTIMATED_ACTUAL {record[self.i_flag].strip().upper()!r} is not A, E or empty"
            )
        if day.kind == "normal":
            ts = day.midnight_utc + start * 60
        else:
            ts = self._start_epoch(day, esiid, channel, start, end)
        return Row(esiid, channel, ts, wh, quality, revised, number)

    def _bad(self, number: int, kind: str, message: str) -> None:
        self.stats.add_error(kind, self._line(number), message)

    @staticmethod
    def cached(cache: dict, text: str, parse: Callable) -> Any:
        value = cache.get(text, _MISSING)
        if value is _MISSING:
            if len(cache) >= CACHE_ENTRIES:
                cache.clear()
            value = cache[text] = parse(text)
        return value

    def _start_epoch(self, day: Day, esiid: str, channel: str, start: int, end: int) -> int:
        if day.kind != "fall" or not (75 <= end <= 120):
            return day.epoch(start)
        # Fall back: the hour 01:00-02:00 happens twice. The repeat starts at the row labelled
        # "02:00,01:15" (start after end); otherwise a repeated end label tells it (SMT.md 2.5).
        seen = self.fall_seen.setdefault((esiid, day.day, channel), set())
        repeat = start > end or end in seen or "repeat" in seen
        seen.add(end)
        if start > end:
            seen.add("repeat")
        if end == 120 and repeat:
            seen.discard("repeat")
        return day.epoch(end - 15, fold=1 if repeat else 0)


def iter_rows(
    fileobj: BinaryIO, stats: ParseStats, budget: ContentBudget | None = None, *, expected_esiid: str | None = None
) -> Iterator[Row]:
    """Every valid interval row of a raw SMT file, in file order. Raises FileRejected.

    `expected_esiid` is the ESIID named with the upload: the only one a spreadsheet's
    scientific-notation ESIID may be read as (csv_members).
    """
    found = False
    for member, stream in csv_members(fileobj, stats, budget, expected_esiid=expected_esiid):
        lines = text_lines(stream, member)
        try:
            header = find_header(lines, member)
        except FileDamaged:
            raise
        except FileRejected:
            if member:  # one odd member (a readme) does not sink the bundle
                stats.add_error("member", member, "no SMT interval header")
                continue
            raise
        if header.kind != "interval":
            raise FileRejected(f"{member or 'file'} is a billing (DailyMeterUsage) file, not interval data")
        found = True
        reader = IntervalReader(header, stats, member)
        records = csv.reader(lines)
        try:
            yield from reader.rows(records, header.line + 1)
        except csv.Error as exc:
            # An unclosed quote swallows the lines after it until the field limit trips.
            where = f"{member}: " if member else ""
            raise FileRejected(f"{where}line {header.line + records.line_num}: {exc} (an unclosed quote?)") from None
    if not found:
        raise FileRejected(f"no member with an SMT interval header; expected {EXPECTED_HEADER}")


def sniff(fileobj: BinaryIO, *, expected_esiid: str | None = None) -> str:
    """Check container and header without reading the body; return the kind. Raises FileRejected."""
    kind = None
    for member, stream in csv_members(fileobj, ParseStats(), expected_esiid=expected_esiid):
        try:
            kind = kind or find_header(text_lines(stream, member), member).kind
        except FileDamaged:
            raise
        except FileRejected:
            if not member:
                raise
    fileobj.seek(0)
    if kind is None:
        raise FileRejected(f"no member with an SMT header; expected {EXPECTED_HEADER}")
    return kind


def epoch_iso(epoch: int | None) -> str | None:
    if epoch is None:
        return None
    return (_EPOCH + timedelta(seconds=epoch)).strftime("%Y-%m-%dT%H:%M:%SZ")
