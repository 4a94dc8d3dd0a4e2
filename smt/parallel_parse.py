"""A big SMT CSV parsed across processes, its rows handed on in file order.

The serial reader (smt.parser.iter_rows) runs in one Python thread, so a large file's normalize
is bound by one core while PostgreSQL waits for rows. Here each CSV member is decompressed to a
temporary file, cut into byte ranges at line boundaries, and the ranges are parsed in a process
pool; the rows come back range by range in file order, so the revision rule's "last row wins"
and the real line numbers stay exactly as the serial reader gives them.

What makes a range depend on the ones before it is handled, not hoped away:
- line numbers: the parent counts the newlines before each range;
- fall-back days: which of the two 01:00-02:00 hours a row belongs to depends on the rows of the
  same ESIID, day and channel seen before it, so workers report those rows and the parent
  resolves them again in file order;
- quoted fields (a newline inside quotes) and bare carriage returns would make a byte split
  disagree with the CSV reader: a file holding either is read serially.
"""

import csv
import functools
import io
import multiprocessing
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import BinaryIO

from django.conf import settings

from smt import interval_rows, parser

# About 50,000 rows of a portal export: big enough that pickling the rows back is cheap per
# row, small enough that the first rows reach PostgreSQL's COPY within a second.
RANGE_BYTES = 4 * 1024 * 1024
SPOOL_CHUNK = 1 << 20
PARENT_CHECK_SECONDS = 0.5
_as_row = functools.partial(tuple.__new__, parser.Row)  # a tuple back into a Row, in C


@dataclass(frozen=True)
class _Range:
    """One worker's share of a member: bytes [start, end) of the spooled file."""

    path: str
    start: int
    end: int
    first_line: int  # line number of the range's first line within its member (header = its own line)
    header: parser.Header
    member: str
    last_day: date
    revision_limit: int


@dataclass
class _Parsed:
    rows: list[tuple]  # Row fields; see range_parse
    stats: parser.ParseStats
    # Rows in a fall-back day's repeated hour: (index in rows, day, esiid, channel, start, end).
    repeated: list[tuple] = field(default_factory=list)


@dataclass
class _Member:
    name: str
    path: str
    size: int
    serial_only: bool  # quotes or bare carriage returns: a byte split could cut a record


class _RangeReader(parser.IntervalReader):
    """IntervalReader noting the rows whose instant depends on rows in earlier ranges."""

    def __init__(self, header: parser.Header, stats: parser.ParseStats, member: str, *, record: bool = True):
        super().__init__(header, stats, member)
        self.record, self.repeated = record, []

    def _start_epoch(self, day: parser.Day, esiid: str, channel: str, start: int, end: int) -> int:
        if self.record and day.kind == "fall" and 75 <= end <= 120:
            # stats.valid counts the valid rows before this one: its index in the range's rows.
            self.repeated.append((self.stats.valid, day.day, esiid, channel, start, end))
        return super()._start_epoch(day, esiid, channel, start, end)

    def resolve(self, day: date, esiid: str, channel: str, start: int, end: int) -> int:
        """The instant of a repeated-hour row given every such row before it in file order."""
        return super()._start_epoch(parser.Day.of(day), esiid, channel, start, end)


def pool_process_start(parent: int) -> None:
    """Runs first in each pool process: the process ends once its parent is gone.

    A parent killed mid-parse (SIGKILL, or django-q2 ending a worker past its timeout) cannot
    close its pool; each pool process would parse on to the end of its range, whatever that
    costs, before it met the closed pipe. Watching for the new parent ends it within a moment."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def range_parse(task: _Range) -> _Parsed:
    """Parse one byte range as the serial reader would; runs in a pool worker."""
    with open(task.path, "rb") as handle:
        handle.seek(task.start)
        data = handle.read(task.end - task.start)
    text = _range_text(data, task)
    stats = parser.ParseStats()
    reader = _RangeReader(task.header, stats, task.member)
    reader.last_day, reader.revision_limit = task.last_day, task.revision_limit
    rows = list(reader.rows(csv.reader(io.StringIO(text, newline="")), task.first_line))
    if reader.repeated:
        # Their instants may change once resolved in file order: leave them out of the span here.
        skip = {entry[0] for entry in reader.repeated}
        kept = [row.ts for index, row in enumerate(rows) if index not in skip]
        stats.ts_min, stats.ts_max = (min(kept), max(kept)) if kept else (None, None)
    # Plain tuples cross the process boundary: unpickling a NamedTuple calls its Python-level
    # __new__ once a row, which cost as much as parsing the row did.
    return _Parsed(list(map(tuple, rows)), stats, reader.repeated)


def _range_text(data: bytes, task: _Range) -> str:
    """The range decoded, refusing what text_lines refuses, naming the same line."""
    where = f"{task.member}: " if task.member else ""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = task.first_line + data.count(b"\n", 0, exc.start)
        raise parser.FileRejected(
            f"{where}binary or non-UTF-8 content near line {line}; "
            f"expected a CSV text file with header {parser.EXPECTED_HEADER}"
        ) from None
    for number, line in enumerate(text.split("\n"), task.first_line):
        if "\x00" in line:
            raise parser.FileRejected(
                f"{where}binary content at line {number}; expected a CSV text file with header {parser.EXPECTED_HEADER}"
            )
        if len(line) > parser.MAX_LINE_CHARS:
            raise parser.FileRejected(
                f"{where}line {number} is longer than {parser.MAX_LINE_CHARS} characters; not an SMT CSV"
            )
    return text


def file_rows_parallel(
    fileobj: BinaryIO,
    stats: parser.ParseStats,
    *,
    expected_esiid: str | None = None,
    usage_points: dict | None = None,
    range_bytes: int | None = None,
) -> Iterator[parser.Row]:
    """interval_rows.file_rows, with a big CSV's parse spread over a process pool.

    Same rows in the same order, same line numbers, same stats and the same refusals as the
    serial reader. Green Button files, files under SMT_PARSE_PARALLEL_MIN_BYTES, files with
    quoted fields or bare carriage returns, and reads inside a daemonic process (a django-q2
    worker when Q_DAEMONIZE_WORKERS is true) are serial; stats.parse_workers says which it was.
    Raises FileRejected.
    """
    size = fileobj.seek(0, os.SEEK_END)
    fileobj.seek(0)
    serial = interval_rows.file_rows(fileobj, stats, expected_esiid=expected_esiid, usage_points=usage_points)
    # A daemonic process may not start children: a django-q2 worker is one unless Q_CLUSTER's
    # "daemonize_workers" is False (our default, Q_DAEMONIZE_WORKERS); such a worker parses serially.
    in_daemon = multiprocessing.current_process().daemon
    if in_daemon or size < settings.SMT_PARSE_PARALLEL_MIN_BYTES or interval_rows.fileobj_is_greenbutton(fileobj):
        yield from serial
        return
    with tempfile.TemporaryDirectory(prefix="smt-parse-") as spool:
        members = _spool_members(fileobj, stats, spool, expected_esiid=expected_esiid)
        if any(member.serial_only for member in members):
            stats.reset()
            fileobj.seek(0)
            yield from serial
            return
        yield from _members_rows(members, stats, range_bytes or RANGE_BYTES)


def _spool_members(
    fileobj: BinaryIO, stats: parser.ParseStats, spool: str, *, expected_esiid: str | None
) -> list[_Member]:
    """Each CSV member decompressed (and un-spreadsheeted) to a file of its own."""
    members = []
    for number, (name, stream) in enumerate(parser.csv_members(fileobj, stats, expected_esiid=expected_esiid)):
        path, size, serial_only = os.path.join(spool, f"member-{number}.csv"), 0, False
        with open(path, "wb") as out:
            while chunk := stream.read(SPOOL_CHUNK):
                if chunk.endswith(b"\r"):
                    chunk += stream.read(1)
                serial_only = serial_only or b'"' in chunk or chunk.count(b"\r") != chunk.count(b"\r\n")
                out.write(chunk)
                size += len(chunk)
        members.append(_Member(name, path, size, serial_only))
    return members


def _members_rows(members: list[_Member], stats: parser.ParseStats, range_bytes: int) -> Iterator[parser.Row]:
    """iter_rows' member loop over the spooled members, each member's body parsed in ranges."""
    found = False
    context = multiprocessing.get_context("spawn")  # fork is unsafe in a threaded worker holding sockets
    workers = settings.SMT_PARSE_WORKERS or os.cpu_count() or 1
    with context.Pool(workers, initializer=pool_process_start, initargs=(os.getpid(),)) as pool:
        stats.parse_workers = workers
        for member in members:
            header, body_start = _member_header(member, stats)
            if header is None:
                continue
            found = True
            tasks = _ranges(member, header, body_start, range_bytes)
            yield from _ordered_rows(pool, tasks, stats, workers)
    if not found:
        raise parser.FileRejected(f"no member with an SMT interval header; expected {parser.EXPECTED_HEADER}")


def _member_header(member: _Member, stats: parser.ParseStats) -> tuple[parser.Header | None, int]:
    """The member's header and the byte offset of its body; (None, 0) for an odd member of a bundle."""
    with open(member.path, "rb") as handle:
        try:
            header = parser.find_header(parser.text_lines(handle, member.name), member.name)
        except parser.FileDamaged:
            raise
        except parser.FileRejected:
            if member.name:  # one odd member (a readme) does not sink the bundle
                stats.add_error("member", member.name, "no SMT interval header")
                return None, 0
            raise
    if header.kind != "interval":
        raise parser.FileRejected(f"{member.name or 'file'} is a billing (DailyMeterUsage) file, not interval data")
    with open(member.path, "rb") as handle:  # text_lines' wrapper closed the first handle
        head = handle.read(parser.HEADER_SEARCH_LINES * (parser.MAX_LINE_CHARS + 2))
    offset = -1
    for _ in range(header.line):
        offset = head.find(b"\n", offset + 1)
    return header, len(head) if offset < 0 else offset + 1


def _ranges(member: _Member, header: parser.Header, body_start: int, range_bytes: int) -> Iterator[_Range]:
    """The member's body in ranges ending at line ends, each with the number of its first line."""
    last_day, limit = parser.last_plausible_day(), parser.revision_limit()
    with open(member.path, "rb") as handle:
        start, line = body_start, header.line + 1
        while start < member.size:
            handle.seek(start + range_bytes)
            tail = handle.readline()
            end = min(start + range_bytes + len(tail), member.size)
            handle.seek(start)
            lines = handle.read(end - start).count(b"\n")
            yield _Range(member.path, start, end, line, header, member.name, last_day, limit)
            start, line = end, line + lines


def _ordered_rows(pool, tasks: Iterator[_Range], stats: parser.ParseStats, workers: int) -> Iterator[parser.Row]:
    """The ranges' rows in file order, a few ranges parsed ahead so memory stays bounded."""
    pending: deque = deque()
    resolver = None
    for task in tasks:
        pending.append(pool.apply_async(range_parse, (task,)))
        resolver = resolver or _RangeReader(task.header, parser.ParseStats(), task.member, record=False)
        if len(pending) > workers * 2:
            yield from _range_rows(pending.popleft().get(), stats, resolver)
    while pending:
        yield from _range_rows(pending.popleft().get(), stats, resolver)


def _range_rows(parsed: _Parsed, stats: parser.ParseStats, resolver: _RangeReader) -> list[parser.Row]:
    """One range's rows with the repeated hour resolved in file order, its stats added to `stats`."""
    rows = list(map(_as_row, parsed.rows))
    for index, day, esiid, channel, start, end in parsed.repeated:
        rows[index] = row = rows[index]._replace(ts=resolver.resolve(day, esiid, channel, start, end))
        parsed.stats.ts_min = row.ts if parsed.stats.ts_min is None else min(parsed.stats.ts_min, row.ts)
        parsed.stats.ts_max = row.ts if parsed.stats.ts_max is None else max(parsed.stats.ts_max, row.ts)
    stats_merge(into=stats, part=parsed.stats)
    return rows


def stats_merge(*, into: parser.ParseStats, part: parser.ParseStats) -> None:
    """Add a later part of a file's stats to `into`, as if one reader had read both in order."""
    for name in ("rows_read", "valid", "dst_gap_skipped", "consumption_wh", "generation_wh"):
        setattr(into, name, getattr(into, name) + getattr(part, name))
    into.ts_min = part.ts_min if into.ts_min is None else min(into.ts_min, part.ts_min or into.ts_min)
    into.ts_max = part.ts_max if into.ts_max is None else max(into.ts_max, part.ts_max or into.ts_max)
    for kind, entry in part.invalid.items():
        kept = into.invalid.setdefault(kind, {"count": 0, "rows": [], "messages": []})
        kept["count"] += entry["count"]
        room = parser.ERROR_ROWS_KEPT - len(kept["rows"])
        kept["rows"].extend(entry["rows"][:room])
        kept["messages"].extend(entry["messages"][:room])
