"""Green Button (NAESB ESPI XML) in and out, as pure functions: no ORM, no settings.

Import turns an ESPI Atom feed into the same `parser.Row`s the SMT CSV reader yields, so the
normalize path loads them unchanged. Export streams our 15-minute rows as an ESPI feed that
validates against the ESPI 4.0 schema and reads back into the same rows.

Real downloads vary (see shared/formats/samples/real/greenbutton/SOURCES.md): namespace
prefixes differ, so elements are matched by namespace URI; entries are tied together by their
links, never by position; hourly series, non-energy series and readings without a value occur.

One module though ~600 lines: reading and writing share the namespace table, the ReadingType
rules and the quality codes, and the export is tested by reading it back with the import.
"""

import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import BinaryIO
from urllib.parse import urlsplit

import defusedxml.ElementTree as defused
from defusedxml import DefusedXmlException

from config.texas import CENTRAL, parse_esiid
from smt.parser import FileRejected, ParseStats, Row, day_problem, last_plausible_day

ATOM = "http://www.w3.org/2005/Atom"
ESPI = "http://naesb.org/espi"
INTERVAL_SECONDS = 900
UOM_WH = 72
FLOW_CHANNELS = {1: "consumption", 19: "generation"}
# ESPI QualityOfReading. Edited (7) is a value someone substituted, not what the meter measured:
# our store has no "edited", so it is kept as estimated and counted in the notes.
ACTUAL_CODES = {0, 14, 17, 18, 19}
ESTIMATED_CODES = {7, 8, 9, 12}
EDITED = 7
READ_CHUNK = 64 * 1024
NOTE_LINES_KEPT = 5


class UsagePointsUnmapped(FileRejected):
    """Several UsagePoints hold data and not each was given an ESIID; `usage_points` names them."""

    def __init__(self, message: str, usage_points: list[str]):
        super().__init__(message)
        self.usage_points = usage_points


@dataclass
class GreenButtonFile:
    """What one Green Button file holds, ready for the normalize path.

    `rows_by_usage_point` maps each UsagePoint (its link path, e.g.
    "RetailCustomer/1/UsagePoint/7", or "" when the file has no links) to its rows, sorted by
    (channel, ts), each already carrying the ESIID it was mapped to. `notes` says, in plain
    sentences, what was decided on the way (series refused and why, repeats dropped,
    conflicting repeats, flowDirection 0 read as consumption).
    """

    rows_by_usage_point: dict[str, list[Row]]
    stats: ParseStats
    notes: list[str] = field(default_factory=list)
    repeated: int = 0  # readings given twice with the same value: dropped
    conflicting: int = 0  # readings given twice with different values: the later kept
    missing_values: int = 0  # IntervalReadings without <value>: skipped
    edited: int = 0  # quality 7, stored as estimated

    @property
    def rows(self) -> list[Row]:
        return [row for rows in self.rows_by_usage_point.values() for row in rows]


# ---------------------------------------------------------------- reading the XML


@dataclass
class _Reading:
    line: int
    start: str = ""
    duration: str = ""
    value: str | None = None
    qualities: list[str] = field(default_factory=list)


@dataclass
class _Entry:
    line: int
    links: list[tuple[str, str]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    reading_type: dict[str, str] | None = None
    blocks: list[list[_Reading]] = field(default_factory=list)

    def link(self, rel: str) -> str | None:
        return next((_path(href) for r, href in self.links if r == rel), None)

    def related(self) -> list[str]:
        return [_path(href) for r, href in self.links if r == "related"]


def _path(href: str) -> str:
    """A link as a comparable path: hosts and slashes differ between files, the path does not."""
    return urlsplit(href.strip()).path.strip("/")


def _parent(path: str | None) -> str | None:
    return path.rpartition("/")[0] if path and "/" in path else None


class _FeedTarget:
    """An XML parser target that keeps only what import needs, with each reading's line.

    Called by expat as it reads, so memory holds the readings, never the element tree.
    """

    def __init__(self) -> None:
        self.parser = None  # set once the parser exists: its expat object gives line numbers
        self.stack: list[tuple[str, str]] = []
        self.text: list[str] = []
        self.entries: list[_Entry] = []
        self.entry: _Entry | None = None
        self.block: list[_Reading] | None = None
        self.reading: _Reading | None = None

    def _line(self) -> int:
        return self.parser.parser.CurrentLineNumber

    def start(self, tag: str, attrib: dict) -> None:
        ns, local = _split(tag)
        parent = self.stack[-1] if self.stack else None
        if not self.stack and (ns, local) not in ((ATOM, "feed"), (ATOM, "entry")):
            raise FileRejected(
                f"the root element is {local!r} ({ns or 'no namespace'}); expected an Atom feed of Green Button (ESPI) data"
            )
        self.stack.append((ns, local))
        self.text = []
        if (ns, local) == (ATOM, "entry"):
            self.entry = _Entry(self._line())
        elif (ns, local) == (ATOM, "link") and parent == (ATOM, "entry") and self.entry:
            self.entry.links.append((attrib.get("rel", ""), attrib.get("href", "")))
        elif ns == ESPI and parent == (ATOM, "content") and self.entry:
            self._resource(local)
        elif (ns, local) == (ESPI, "IntervalReading") and self.block is not None:
            self.reading = _Reading(self._line())

    def _resource(self, local: str) -> None:
        self.entry.kinds.append(local)
        if local == "IntervalBlock":
            self.block = []
            self.entry.blocks.append(self.block)
        elif local == "ReadingType":
            self.entry.reading_type = {}

    def data(self, text: str) -> None:
        self.text.append(text)

    def end(self, tag: str) -> None:
        ns, local = self.stack.pop()
        parent = self.stack[-1] if self.stack else None
        text = "".join(self.text).strip()
        self.text = []
        if ns == ESPI:
            self._espi_end(local, parent, text)
        elif (ns, local) == (ATOM, "entry") and self.entry:
            self.entries.append(self.entry)
            self.entry = None

    def _espi_end(self, local: str, parent: tuple[str, str] | None, text: str) -> None:
        reading, entry = self.reading, self.entry
        if parent == (ESPI, "ReadingType") and entry and entry.reading_type is not None:
            entry.reading_type[local] = text
        elif local == "IntervalReading" and reading is not None and self.block is not None:
            self.block.append(reading)
            self.reading = None
        elif local == "IntervalBlock":
            self.block = None
        elif reading is not None and parent == (ESPI, "IntervalReading") and local == "value":
            reading.value = text
        elif reading is not None and parent == (ESPI, "timePeriod") and local in ("start", "duration"):
            setattr(reading, local, text)
        elif reading is not None and parent == (ESPI, "ReadingQuality") and local == "quality":
            reading.qualities.append(text)

    def close(self) -> None:
        return None


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def _entries(fileobj: BinaryIO) -> list[_Entry]:
    target = _FeedTarget()
    # No DTD at all: Green Button files have none, and refusing it refuses every entity bomb.
    parser = defused.DefusedXMLParser(target=target, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    target.parser = parser
    try:
        while chunk := fileobj.read(READ_CHUNK):
            parser.feed(chunk)
        parser.close()
    except DefusedXmlException as exc:
        raise FileRejected(
            f"the XML declares a DTD or entities ({type(exc).__name__}); Green Button files have none, "
            "so it is refused (an XML bomb would look like this)"
        ) from None
    except defused.ParseError as exc:
        raise FileRejected(f"not well-formed XML ({exc}); expected a Green Button (ESPI) Atom feed") from None
    if not target.entries:
        raise FileRejected(
            "no Atom entries found; expected a Green Button (ESPI) feed of UsagePoint, MeterReading and IntervalBlock entries"
        )
    return target.entries


# ---------------------------------------------------------------- linking entries


@dataclass
class _Series:
    """One MeterReading: where it belongs, its ReadingType and its readings."""

    key: str
    usage_point: str
    reading_type: dict[str, str] | None = None
    readings: list[_Reading] = field(default_factory=list)


def _series(entries: list[_Entry], notes: list[str]) -> list[_Series]:
    """Tie IntervalBlocks to MeterReadings, MeterReadings to UsagePoints and ReadingTypes, by links."""
    reading_types = {e.link("self"): e.reading_type for e in entries if e.reading_type is not None}
    series: dict[str, _Series] = {}
    for e in entries:
        if "MeterReading" in e.kinds:
            key = e.link("self") or f"MeterReading@{e.line}"
            found = series.setdefault(key, _Series(key, _meter_reading_owner(e)))
            found.reading_type = _linked_type(e.related(), reading_types)
    for e in entries:
        if not e.blocks:
            continue
        owner = _parent(e.link("up")) or _parent(_parent(e.link("self"))) or ""
        found = series.get(owner) or series.setdefault(owner, _Series(owner, _parent(_parent(owner)) or ""))
        for block in e.blocks:
            found.readings.extend(block)
    lonely = [s for s in series.values() if s.reading_type is None]
    if len(reading_types) == 1 and lonely and not any("MeterReading" in e.kinds for e in entries):
        # A file without MeterReading entries (no links at all) has one series: its only ReadingType.
        for s in lonely:
            s.reading_type = next(iter(reading_types.values()))
        notes.append("the file has no MeterReading links; its only ReadingType was used for its readings")
    return list(series.values())


def _meter_reading_owner(entry: _Entry) -> str:
    up = _parent(entry.link("up")) or _parent(_parent(entry.link("self")))
    return up or ""


def _linked_type(related: list[str], reading_types: dict[str | None, dict]) -> dict | None:
    for path in related:
        if path in reading_types:
            return reading_types[path]
    # Relative and absolute links to the same ReadingType: match on the path's tail.
    for path in related:
        tails = [
            rt for key, rt in reading_types.items() if key and (key.endswith("/" + path) or path.endswith("/" + key))
        ]
        if len(tails) == 1:
            return tails[0]
    return None


# ---------------------------------------------------------------- series to rows


def _int(text: str | None) -> int | None:
    try:
        return int(text.strip()) if text is not None and text.strip() else None
    except ValueError:
        return None


def _series_problem(s: _Series) -> tuple[str, str] | None:
    """Why a series cannot be stored as ours, as (kind, reason), or None.

    The interval length comes first: it is the reason a customer can act on (download the
    15-minute file), and it is known even when the ReadingType is missing.
    """
    where = f"MeterReading {s.key or '(unlinked)'}"
    rt = s.reading_type or {}
    length = _int(rt.get("intervalLength")) or _common_duration(s.readings)
    if length is not None and length != INTERVAL_SECONDS:
        return ("hourly" if length == 3600 else "length"), f"{where} has {length} s intervals"
    if s.reading_type is None:
        return "unit", f"{where} has no ReadingType, so its unit is unknown"
    uom = _int(rt.get("uom"))
    if uom != UOM_WH:
        return "unit", f"{where} is not energy (uom {rt.get('uom') or 'missing'}; only 72 = Wh is stored)"
    flow = _int(rt.get("flowDirection"))
    if flow not in (None, 0, *FLOW_CHANNELS):
        return "flow", f"{where} has flowDirection {flow}; only 1 (consumption) and 19 (generation) are stored"
    if length is None:
        return "length", f"{where} states no intervalLength and its readings no duration"
    return None


def _refusal(problems: list[tuple[str, str]]) -> str:
    """One message for a file none of whose series can be stored: hourly first, it is the common case."""
    hourly = [reason for kind, reason in problems if kind == "hourly"]
    others = [reason for kind, reason in problems if kind != "hourly"]
    parts = []
    if hourly:
        parts.append(
            f"hourly Green Button files are not stored yet: {'; '.join(hourly)}; "
            "only 15-minute (900 s) data is stored, so download the 15-minute file if your utility offers it"
        )
    if others:
        parts.append("no 15-minute energy series to store: " + "; ".join(others))
    return ". ".join(parts) or "the file holds no IntervalBlocks with readings"


def _common_duration(readings: list[_Reading]) -> int | None:
    counts = Counter(_int(r.duration) for r in readings if _int(r.duration))
    return counts.most_common(1)[0][0] if counts else None


def _quality(codes: list[str]) -> str:
    values = {_int(code) for code in codes}
    if values & ESTIMATED_CODES:
        return "estimated"
    if values <= ACTUAL_CODES:
        return "actual"
    return "unknown"


def _wh(value: int, multiplier: int) -> int:
    return int(Decimal(value).scaleb(multiplier).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


@dataclass
class _Merge:
    """The rows of one UsagePoint by (channel, ts), the later of two differing readings kept."""

    kept: dict[tuple[str, int], tuple[int, str, int]] = field(default_factory=dict)
    repeated: int = 0
    conflicting: int = 0
    conflict_lines: list[int] = field(default_factory=list)

    def add(self, channel: str, ts: int, wh: int, quality: str, line: int) -> None:
        before = self.kept.get((channel, ts))
        if before is not None and before[:2] == (wh, quality):
            self.repeated += 1
            return
        if before is not None:
            self.conflicting += 1
            if len(self.conflict_lines) < NOTE_LINES_KEPT:
                self.conflict_lines.append(line)
        self.kept[(channel, ts)] = (wh, quality, line)


def _series_rows(s: _Series, merge: _Merge, result: GreenButtonFile, last: date) -> None:
    rt = s.reading_type
    channel = FLOW_CHANNELS.get(_int(rt.get("flowDirection")) or 1, "consumption")
    multiplier = _int(rt.get("powerOfTenMultiplier")) or 0
    stats = result.stats
    for r in s.readings:
        stats.rows_read += 1
        problem, ts = _reading_problem(r, last)
        if problem:
            stats.add_error(problem[0], str(r.line), problem[1])
            continue
        if r.value is None or not r.value.strip():
            result.missing_values += 1
            continue
        value = _int(r.value)
        if value is None or value < 0:
            stats.add_error("kwh", str(r.line), f"IntervalReading value {r.value!r} is not a non-negative integer")
            continue
        if EDITED in {_int(code) for code in r.qualities}:
            result.edited += 1
        merge.add(channel, ts, _wh(value, multiplier), _quality(r.qualities), r.line)


def _reading_problem(r: _Reading, last: date) -> tuple[tuple[str, str] | None, int]:
    start, duration = _int(r.start), _int(r.duration)
    if start is None:
        return ("timestamp", f"IntervalReading timePeriod start {r.start!r} is not epoch seconds"), 0
    if duration is not None and duration != INTERVAL_SECONDS:
        return ("timestamp", f"IntervalReading lasts {duration} s; expected {INTERVAL_SECONDS}"), start
    if start % INTERVAL_SECONDS:
        return ("timestamp", f"IntervalReading starts at {start}, not on a quarter hour"), start
    try:
        day = datetime.fromtimestamp(start, tz=UTC).astimezone(CENTRAL).date()
    except (OverflowError, OSError, ValueError):
        return ("timestamp", f"IntervalReading start {start} is out of range"), start
    if problem := day_problem(day, last=last, column="timePeriod start"):
        return ("date", problem), start
    return None, start


# ---------------------------------------------------------------- import


def greenbutton_read(
    fileobj: BinaryIO, *, esiid: str | None = None, esiids: Mapping[str, str] | None = None
) -> GreenButtonFile:
    """Read a Green Button (ESPI XML) file into SMT-shaped rows.

    The file names no ESIID we can trust, so the caller gives one: `esiid` when one UsagePoint
    holds data, or `esiids` mapping each UsagePoint path (as in `UsagePointsUnmapped`) to one.
    Series that are not 15-minute Wh are refused with their reason in `notes`; when no series
    is left, or the file cannot be read, raises FileRejected naming the problem.
    """
    notes: list[str] = []
    series = _series(_entries(fileobj), notes)
    accepted: list[_Series] = []
    problems: list[tuple[str, str]] = []
    for s in series:
        problem = _series_problem(s)
        (problems.append(problem) if problem else accepted.append(s))
    if not accepted:
        raise FileRejected(_refusal(problems))
    notes.extend(f"refused: {reason}" for _, reason in problems)
    result = GreenButtonFile({}, ParseStats(), notes)
    _rows_build(accepted, result)
    _esiids_apply(result, esiid=esiid, esiids=esiids)
    _notes_add(result, accepted)
    return result


def _rows_build(accepted: list[_Series], result: GreenButtonFile) -> None:
    last = last_plausible_day()
    merges: dict[str, _Merge] = {}
    for s in accepted:
        _series_rows(s, merges.setdefault(s.usage_point, _Merge()), result, last)
    for point, merge in merges.items():
        result.repeated += merge.repeated
        result.conflicting += merge.conflicting
        if merge.conflicting:
            lines = ", ".join(map(str, merge.conflict_lines))
            result.notes.append(
                f"{merge.conflicting} intervals appeared twice with different values; "
                f"the later reading was kept (lines {lines})"
            )
        rows = [
            Row("", channel, ts, wh, quality, None, line) for (channel, ts), (wh, quality, line) in merge.kept.items()
        ]
        if rows:
            result.rows_by_usage_point[point] = sorted(rows, key=lambda row: (row.channel, row.ts))


def _esiids_apply(result: GreenButtonFile, *, esiid: str | None, esiids: Mapping[str, str] | None) -> None:
    points = list(result.rows_by_usage_point)
    mapping = dict(esiids or {})
    if esiid is not None and len(points) == 1 and points[0] not in mapping:
        mapping[points[0]] = esiid
    unmapped = [point or "(unlinked)" for point in points if point not in mapping]
    if unmapped:
        if len(points) > 1:
            message = f"{len(points)} UsagePoints hold data ({', '.join(unmapped)}) and need an ESIID each"
            message += "; name the ESIID for each UsagePoint"
        else:
            message = f"the file's UsagePoint ({unmapped[0]}) needs an ESIID; name it with the upload"
        raise UsagePointsUnmapped(message, unmapped)
    for point, rows in result.rows_by_usage_point.items():
        value = parse_esiid(mapping[point])
        if value is None:
            raise FileRejected(
                f"ESIID {mapping[point]!r} for UsagePoint {point or '(unlinked)'} is not 17 or 22 digits"
            )
        result.rows_by_usage_point[point] = [row._replace(esiid=value) for row in rows]
    _stats_fill(result)


def _stats_fill(result: GreenButtonFile) -> None:
    stats = result.stats
    for row in result.rows:
        stats.valid += 1
        if row.channel == "consumption":
            stats.consumption_wh += row.wh
        else:
            stats.generation_wh += row.wh
        stats.ts_min = row.ts if stats.ts_min is None else min(stats.ts_min, row.ts)
        stats.ts_max = row.ts if stats.ts_max is None else max(stats.ts_max, row.ts)


def _notes_add(result: GreenButtonFile, accepted: list[_Series]) -> None:
    if any(_int(s.reading_type.get("flowDirection")) in (None, 0) for s in accepted):
        result.notes.append("flowDirection 0 or missing was read as consumption")
    if result.repeated:
        result.notes.append(
            f"{result.repeated} readings repeated in overlapping blocks with the same value were counted once"
        )
    if result.missing_values:
        result.notes.append(f"{result.missing_values} IntervalReadings without a value were skipped")
    if result.edited:
        result.notes.append(f"{result.edited} edited readings (quality 7) were stored as estimated")


# ---------------------------------------------------------------- export

# US rules since 2007 (ESPI DstRuleType bit map): second Sunday of March 02:00 and first Sunday
# of November 02:00; Central standard time is UTC-6 (-21600 s), DST adds 3600 s.
DST_START_RULE = "360E2000"
DST_END_RULE = "B40E2000"
CENTRAL_TZ_OFFSET = -21600
QUALITY_CODES = {"estimated": 8, "unknown": 16}  # actual: no ReadingQuality (ESPI's default)
_RESOURCE = "RetailCustomer/1/UsagePoint/1"
_FLOW = {"consumption": 1, "generation": 19}
_SERIES_NUMBER = {"consumption": 1, "generation": 2}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _entry(*, esiid: str, path: str, related: list[str], kind: str, title: str, updated: str, content: str) -> str:
    entry_id = uuid.uuid5(uuid.NAMESPACE_URL, f"wattledger:{esiid}:{path}")
    links = "".join(f'<link rel="related" href="{href}"/>' for href in related)
    up = path.rpartition("/")[0]
    return (
        f'<entry><id>urn:uuid:{entry_id}</id><link rel="self" href="{path}" type="espi-entry/{kind}"/>'
        f'<link rel="up" href="{up}" type="espi-feed/{kind}"/>{links}<title>{title}</title>'
        f"<published>{updated}</published><updated>{updated}</updated>"
        f"<content>{content}</content></entry>\n"
    )


def _meter_reading(channel: str, esiid: str, updated: str) -> str:
    n = _SERIES_NUMBER[channel]
    path = f"{_RESOURCE}/MeterReading/{n}"
    reading_type = (
        f"<espi:ReadingType><espi:accumulationBehaviour>4</espi:accumulationBehaviour>"
        f"<espi:commodity>1</espi:commodity><espi:flowDirection>{_FLOW[channel]}</espi:flowDirection>"
        f"<espi:intervalLength>{INTERVAL_SECONDS}</espi:intervalLength><espi:kind>12</espi:kind>"
        f"<espi:powerOfTenMultiplier>0</espi:powerOfTenMultiplier><espi:uom>{UOM_WH}</espi:uom></espi:ReadingType>"
    )
    return _entry(
        esiid=esiid,
        path=path,
        related=[f"{path}/IntervalBlock", f"ReadingType/{n}"],
        kind="MeterReading",
        title=f"{channel.capitalize()} (Wh, 15 minutes)",
        updated=updated,
        content="<espi:MeterReading/>",
    ) + _entry(
        esiid=esiid,
        path=f"ReadingType/{n}",
        related=[],
        kind="ReadingType",
        title=f"{channel.capitalize()} energy, Wh",
        updated=updated,
        content=reading_type,
    )


def _day_bounds(day: date) -> tuple[int, int]:
    start = datetime(day.year, day.month, day.day, tzinfo=CENTRAL)
    following = day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=CENTRAL)
    return int(start.timestamp()), int(end.timestamp())


def _block(channel: str, day: date, rows: list[Row], esiid: str, updated: str) -> str:
    start, end = _day_bounds(day)  # DST days last 23 or 25 hours: 92 or 100 intervals
    readings = []
    for row in rows:
        code = QUALITY_CODES.get(row.quality)
        quality = f"<espi:ReadingQuality><espi:quality>{code}</espi:quality></espi:ReadingQuality>" if code else ""
        readings.append(
            f"<espi:IntervalReading>{quality}<espi:timePeriod><espi:duration>{INTERVAL_SECONDS}</espi:duration>"
            f"<espi:start>{row.ts}</espi:start></espi:timePeriod><espi:value>{row.wh}</espi:value></espi:IntervalReading>"
        )
    content = (
        f"<espi:IntervalBlock><espi:interval><espi:duration>{end - start}</espi:duration><espi:start>{start}</espi:start>"
        f"</espi:interval>{''.join(readings)}</espi:IntervalBlock>"
    )
    path = f"{_RESOURCE}/MeterReading/{_SERIES_NUMBER[channel]}/IntervalBlock/{day:%Y%m%d}"
    return _entry(
        esiid=esiid,
        path=path,
        related=[],
        kind="IntervalBlock",
        title=f"{day.isoformat()} {channel}",
        updated=updated,
        content=content,
    )


def _central_day(ts: int) -> date:
    return datetime.fromtimestamp(ts, tz=UTC).astimezone(CENTRAL).date()


def greenbutton_chunks(
    rows: Iterable[Row], *, esiid: str, start: datetime, end: datetime, updated: datetime | None = None
) -> Iterator[bytes]:
    """The ESPI feed for one ESIID, piece by piece (for a streamed response).

    `rows` must come sorted by (channel, ts), consumption first, as an ORDER BY gives them;
    rows outside [start, end) are left out. One IntervalBlock per Central day; generation
    becomes a second MeterReading with flowDirection 19. Raises ValueError on unsorted rows.
    """
    if parse_esiid(esiid) is None:
        raise ValueError(f"ESIID {esiid!r} is not 17 or 22 digits")
    stamp = _iso(updated or datetime.now(UTC))
    yield from _feed_head(esiid, start, end, stamp)
    yield _meter_reading("consumption", esiid, stamp).encode()
    channel, day, pending, last = "consumption", None, [], None
    for row in rows:
        if not start.timestamp() <= row.ts < end.timestamp():
            continue
        if last is not None and (row.channel, row.ts) <= last:
            raise ValueError(f"rows must be sorted by (channel, ts); {row.channel} {row.ts} came after {last}")
        last = (row.channel, row.ts)
        row_day = _central_day(row.ts)
        if (row.channel, row_day) != (channel, day) and pending:
            yield _block(channel, day, pending, esiid, stamp).encode()
            pending = []
        if row.channel != channel:
            yield _meter_reading(row.channel, esiid, stamp).encode()
        channel, day = row.channel, row_day
        pending.append(row)
    if pending:
        yield _block(channel, day, pending, esiid, stamp).encode()
    yield b"</feed>\n"


def _feed_head(esiid: str, start: datetime, end: datetime, stamp: str) -> Iterator[bytes]:
    feed_id = uuid.uuid5(uuid.NAMESPACE_URL, f"wattledger:{esiid}:{_iso(start)}:{_iso(end)}")
    yield (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" xmlns:espi="{ESPI}">'
        f"<id>urn:uuid:{feed_id}</id><title>Green Button usage for ESIID {esiid}, {_iso(start)} to {_iso(end)}</title>"
        f'<updated>{stamp}</updated><link rel="self" href="Batch/{_RESOURCE}"/>\n'
    ).encode()
    usage_point = (
        "<espi:UsagePoint><espi:ServiceCategory><espi:kind>0</espi:kind></espi:ServiceCategory></espi:UsagePoint>"
    )
    yield _entry(
        esiid=esiid,
        path=_RESOURCE,
        related=[f"{_RESOURCE}/MeterReading", "LocalTimeParameters/1"],
        kind="UsagePoint",
        title=f"ESIID {esiid}",
        updated=stamp,
        content=usage_point,
    ).encode()
    local_time = (
        f"<espi:LocalTimeParameters><espi:dstEndRule>{DST_END_RULE}</espi:dstEndRule>"
        f"<espi:dstOffset>3600</espi:dstOffset><espi:dstStartRule>{DST_START_RULE}</espi:dstStartRule>"
        f"<espi:tzOffset>{CENTRAL_TZ_OFFSET}</espi:tzOffset></espi:LocalTimeParameters>"
    )
    yield _entry(
        esiid=esiid,
        path="LocalTimeParameters/1",
        related=[],
        kind="LocalTimeParameters",
        title="America/Chicago",
        updated=stamp,
        content=local_time,
    ).encode()


def greenbutton_write(
    rows: Iterable[Row], *, esiid: str, start: datetime, end: datetime, out: BinaryIO, updated: datetime | None = None
) -> None:
    """Write the ESPI feed of `greenbutton_chunks` to a binary file, a piece at a time."""
    for chunk in greenbutton_chunks(rows, esiid=esiid, start=start, end=end, updated=updated):
        out.write(chunk)
