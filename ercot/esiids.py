"""The ESIID master table: extract rows into EsiidRecord, and checks other apps ask of it.

Per ESIID the record from the latest posting wins (`posted_at`), so FUL and DAILY files give the
same table in any load order. On PostgreSQL a clean extract goes through a staging table by
COPY, PostgreSQL's own CSV parser doing the work; a file COPY refuses (a legacy 19-column or
malformed row, a bad ESIID) takes the row-by-row path, which reports each refused line.

A DAILY file upserts from the staging table (`INSERT ... ON CONFLICT`). A FUL file (a TDSP's
full snapshot, millions of rows) replaces instead, with the upsert's result row for row:
- when it outweighs the stored table (`_swap_load`): COPY straight into a new unindexed table,
  add the stored rows it does not supersede, build the key and ZIP index, and put the new table
  in place of the old one, in one transaction (readers wait only for the index build);
- otherwise (`_replace`): the stored rows it supersedes (same ESIID, posting not later than the
  file's) are deleted, then the staged rows whose ESIID is not stored (any more) go in by a plain
  `INSERT ... SELECT`; when the file brings more rows than the table keeps, the indexes are
  dropped for the insert and built after it (readers wait for the commit).
Either way rows posted later than the file stay and win, and ESIIDs the file leaves out stay.
"""

# One module, ~350 lines: every load path (COPY, swap, generic) writes the one EsiidRecord table under the same posted_at rule.

import csv
import io
import logging
import queue
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

import psycopg
from django.db import DataError, IntegrityError, connection, transaction

from ercot import extract
from ercot.models import EsiidRecord

log = logging.getLogger(__name__)
CHUNK_ROWS = 100_000
COPY_CHUNK = 1 << 20
ROW_BYTES = 150  # a short extract row (they average ~200 bytes): a file's size overstates its rows by a third


@dataclass(frozen=True)
class Loaded:
    """What one load did: data rows read from the file (refused ones too) and records written.

    `written` counts only rows not older than the stored record, so a DAILY loaded before the FUL
    it follows reads 40 and writes none: the pair tells that apart from a failed load.
    """

    read: int
    written: int

    def __add__(self, other: "Loaded") -> "Loaded":
        return Loaded(self.read + other.read, self.written + other.written)


def esiid_csv_load(
    *,
    fileobj: BinaryIO,
    member: str,
    errors: extract.RowErrors,
    tdsp: str,
    posted_at: datetime,
    ingest_id: int | None,
    kind: str = "DAILY",
    size: int | None = None,
) -> Loaded:
    """Load one extract CSV (a zip member); returns the rows read and the records written.

    `kind` "FUL" takes the replacing path on PostgreSQL (see the module docstring); `size` (the
    member's uncompressed bytes) tells it whether the file outweighs the stored table.
    """
    if connection.vendor == "postgresql":
        try:
            with transaction.atomic():
                if kind == "FUL" and _table_rows() <= (size or 0) // ROW_BYTES:
                    loaded = _swap_load(fileobj, tdsp=tdsp, posted_at=posted_at, ingest_id=ingest_id)
                else:
                    loaded = _copy_load(
                        fileobj, tdsp=tdsp, posted_at=posted_at, ingest_id=ingest_id, full=kind == "FUL"
                    )
            log.info("ERCOT %s: %s rows read, %s records written via COPY", member, loaded.read, loaded.written)
            return loaded
        except (DataError, IntegrityError, psycopg.DataError, psycopg.IntegrityError) as exc:
            log.info("ERCOT %s: COPY refused the file (%s); loading row by row", member, str(exc).splitlines()[0])
            fileobj.seek(0)
    refused_before, parsed = errors.count, [0]

    def counted(records: Iterator[list[str]]) -> Iterator[list[str]]:
        for record in records:
            parsed[0] += 1
            yield record

    written = esiid_records_load(
        records=counted(extract.iter_records(fileobj, errors, member)),
        tdsp=tdsp,
        posted_at=posted_at,
        ingest_id=ingest_id,
    )
    log.info("ERCOT %s: %s records written row by row, %s rows refused", member, written, errors.count)
    return Loaded(parsed[0] + errors.count - refused_before, written)


_STAGE_DDL = ", ".join(f"{c} text" for c in extract.COLUMNS)
# COPY's CSV format reads an unquoted empty field as NULL; the record keeps "".
_VALUES = ", ".join(f"coalesce({c}, '')" for c in extract.COLUMNS)
_UPDATE = ", ".join(f"{c} = EXCLUDED.{c}" for c in [*extract.COLUMNS[1:], "tdsp", "posted_at", "ingest_id"])
_UPSERT = (
    f"INSERT INTO ercot_esiid_record AS cur ({', '.join(extract.COLUMNS)}, tdsp, posted_at, ingest_id) "
    f"SELECT {_VALUES}, %s, %s, %s FROM ercot_stage "
    f"ON CONFLICT (esiid) DO UPDATE SET {_UPDATE} WHERE cur.posted_at <= EXCLUDED.posted_at"
)


# 17 or 22 digits; cheaper per row during COPY than the anchored pattern '^[0-9]{17}([0-9]{5})?$'.
_ESIID_CHECK = "CHECK (length(esiid) IN (17, 22) AND esiid !~ '[^0-9]')"


def _copy_load(fileobj: BinaryIO, *, tdsp: str, posted_at: datetime, ingest_id: int | None, full: bool) -> Loaded:
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS ercot_stage")
        # The CHECK validates ESIIDs during COPY itself, saving a scan of millions of rows.
        others = ", ".join(f"{c} text" for c in extract.COLUMNS[1:])
        cursor.execute(f"CREATE TEMP TABLE ercot_stage (esiid text NOT NULL {_ESIID_CHECK}, {others}) ON COMMIT DROP")
        # A wrong field count, a bad ESIID or bad encoding fails COPY: the savepoint rolls back and
        # the row-by-row path names the line.
        with cursor.cursor.copy(f"COPY ercot_stage ({', '.join(extract.COLUMNS)}) FROM STDIN (FORMAT csv)") as copy:
            while chunk := fileobj.read(COPY_CHUNK):
                copy.write(chunk)
        staged = read = cursor.cursor.rowcount
        # Repeated ESIIDs (Oncor's FUL file has one): the last row wins. COPY appends to the fresh
        # temporary table in file order, so the greater ctid is the later line.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(
            "DELETE FROM ercot_stage s USING (SELECT esiid, max(ctid) AS last FROM ercot_stage GROUP BY esiid "
            "HAVING count(*) > 1) d WHERE s.esiid = d.esiid AND s.ctid < d.last"
        )
        staged -= cursor.rowcount
        if full:
            written = _replace(cursor, staged=staged, tdsp=tdsp, posted_at=posted_at, ingest_id=ingest_id)
        else:
            cursor.execute(_UPSERT, [tdsp, posted_at, ingest_id])
            written = cursor.rowcount
        cursor.execute("DROP TABLE ercot_stage")
    return Loaded(read, written)


_INSERT_NEW = (
    f"INSERT INTO ercot_esiid_record ({', '.join(extract.COLUMNS)}, tdsp, posted_at, ingest_id) "
    f"SELECT {_VALUES}, %s, %s, %s FROM ercot_stage s"
)


def _replace(cursor, *, staged: int, tdsp: str, posted_at: datetime, ingest_id: int | None) -> int:
    """A FUL file: delete the stored rows it supersedes, insert its rows that are not stored."""
    # No other load may slip a row in between the delete and the insert; readers go on.
    cursor.execute("LOCK TABLE ercot_esiid_record IN SHARE ROW EXCLUSIVE MODE")
    stored = _table_rows()
    cursor.execute(
        "DELETE FROM ercot_esiid_record r USING ercot_stage s WHERE r.esiid = s.esiid AND r.posted_at <= %s",
        [posted_at],
    )
    kept = max(stored - cursor.rowcount, 0)
    cursor.execute("SELECT EXISTS (SELECT 1 FROM ercot_esiid_record)")
    newer = cursor.fetchone()[0]  # rows left with a staged ESIID are posted later: they stay
    where = " WHERE NOT EXISTS (SELECT 1 FROM ercot_esiid_record r WHERE r.esiid = s.esiid)" if newer else ""
    if staged < kept:
        cursor.execute(_INSERT_NEW + where, [tdsp, posted_at, ingest_id])
        return cursor.rowcount
    with _indexes_rebuilt(cursor):
        # Without the key the anti-join hashes the table; rows with a staged ESIID are the newer ones.
        cursor.execute(_INSERT_NEW + where, [tdsp, posted_at, ingest_id])
        return cursor.rowcount


@contextmanager
def _indexes_rebuilt(cursor):
    """Drop ercot_esiid_record's key and indexes, and build them again (one sort each) after the block."""
    constraints, indexes = _index_definitions(cursor)
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    for name, _ in constraints:
        cursor.execute(f'ALTER TABLE ercot_esiid_record DROP CONSTRAINT "{name}"')
    yield
    _indexes_create(cursor, constraints, indexes)


def _index_definitions(cursor) -> tuple[list, list]:
    """([(name, definition)] of the key and unique constraints, [(name, CREATE INDEX ...)] of the other indexes)."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'ercot_esiid_record'::regclass AND contype IN ('p', 'u')"
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'ercot_esiid_record' "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'ercot_esiid_record'::regclass)"
    )
    return constraints, cursor.fetchall()


def _indexes_create(cursor, constraints: list, indexes: list) -> None:
    cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
    for name, definition in constraints:
        cursor.execute(f'ALTER TABLE ercot_esiid_record ADD CONSTRAINT "{name}" {definition}')
    for _, definition in indexes:
        cursor.execute(definition)


def _table_rows() -> int:
    """The stored rows, from the statistics when there are any."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = 'ercot_esiid_record'::regclass")
        estimate = cursor.fetchone()[0]
        if estimate >= 0:
            return estimate
        cursor.execute("SELECT count(*) FROM ercot_esiid_record")
        return cursor.fetchone()[0]


_NEW = "ercot_esiid_record_new"


def _swap_load(fileobj: BinaryIO, *, tdsp: str, posted_at: datetime, ingest_id: int | None) -> Loaded:
    """A FUL file bigger than the stored table: COPY it straight into a new table without indexes,
    add the stored rows it does not supersede, build the indexes, and put the new table in place.

    Writers wait from the start; readers see the old table until the commit.
    """
    columns = ", ".join(extract.COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute("LOCK TABLE ercot_esiid_record IN SHARE ROW EXCLUSIVE MODE")
        constraints, indexes = _index_definitions(cursor)
        cursor.execute(f"DROP TABLE IF EXISTS {_NEW}")
        # LIKE keeps the columns, their order, collations and NOT NULL; no indexes, no defaults.
        cursor.execute(f"CREATE TABLE {_NEW} (LIKE ercot_esiid_record)")
        cursor.execute(
            f"ALTER TABLE {_NEW} ADD CONSTRAINT ercot_esiid_format {_ESIID_CHECK}, "
            "ALTER tdsp SET DEFAULT %s, ALTER posted_at SET DEFAULT %s, ALTER ingest_id SET DEFAULT %s",
            [tdsp, posted_at, ingest_id],
        )
        # FORCE_NOT_NULL: an unquoted empty field is "" as in the record, not NULL. FREEZE (the table
        # is new in this transaction): no vacuum has to visit the millions of rows again to freeze them.
        with cursor.cursor.copy(
            f"COPY {_NEW} ({columns}) FROM STDIN (FORMAT csv, FREEZE, FORCE_NOT_NULL ({columns}))"
        ) as copy:
            while chunk := fileobj.read(COPY_CHUNK):
                copy.write(chunk)
        read = written = cursor.cursor.rowcount
        cursor.execute(
            f"ALTER TABLE {_NEW} DROP CONSTRAINT ercot_esiid_format, ALTER tdsp DROP DEFAULT, "
            "ALTER posted_at DROP DEFAULT, ALTER ingest_id DROP DEFAULT"
        )
        cursor.execute("SELECT EXISTS (SELECT 1 FROM ercot_esiid_record)")
        if cursor.fetchone()[0]:
            # Stored rows posted later than the file win over its rows; the rest stay unless superseded.
            cursor.execute(
                f"DELETE FROM {_NEW} s USING ercot_esiid_record r WHERE r.esiid = s.esiid AND r.posted_at > %s",
                [posted_at],
            )
            written -= cursor.rowcount
            cursor.execute(
                f"INSERT INTO {_NEW} SELECT * FROM ercot_esiid_record r "
                f"WHERE NOT EXISTS (SELECT 1 FROM {_NEW} s WHERE s.esiid = r.esiid)"
            )
        cursor.execute("DROP TABLE ercot_esiid_record")
        cursor.execute(f"ALTER TABLE {_NEW} RENAME TO ercot_esiid_record")
        try:
            with transaction.atomic():  # most files repeat no ESIID: the key's build is the check
                _indexes_create(cursor, constraints, indexes)
        except IntegrityError:
            # Of a repeated ESIID the last line wins. The new table filled in file order (the stored
            # rows after it, none with a file ESIID), so the greater ctid is the later line.
            cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute(
                "DELETE FROM ercot_esiid_record s USING (SELECT esiid, max(ctid) AS last "
                "FROM ercot_esiid_record GROUP BY esiid HAVING count(*) > 1) d "
                "WHERE s.esiid = d.esiid AND s.ctid < d.last"
            )
            written -= cursor.rowcount
            _indexes_create(cursor, constraints, indexes)
    return Loaded(read, written)


def esiid_records_load(*, records: Iterable[list[str]], tdsp: str, posted_at: datetime, ingest_id: int | None) -> int:
    """Upsert 22-field rows into EsiidRecord; returns how many records were written.

    A record replaces the stored one only when its posting is not older, so FUL and DAILY
    files give the same table in any load order; inside one file the last row wins.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            return _load_postgres(records, tdsp=tdsp, posted_at=posted_at, ingest_id=ingest_id)
        return _load_generic(records, tdsp=tdsp, posted_at=posted_at, ingest_id=ingest_id)


def _chunks(records: Iterable[list[str]], size: int = CHUNK_ROWS) -> Iterator[list[list[str]]]:
    """Batches with each ESIID at most once (ON CONFLICT cannot touch a row twice per statement).

    A repeated ESIID (seen in Oncor's FUL file) closes the batch, so it lands in the next one
    and overrides the earlier row: same posting time, later statement.
    """
    chunk, seen = [], set()
    for row in records:
        if row[0] in seen or len(chunk) >= size:
            yield chunk
            chunk, seen = [], set()
        seen.add(row[0])
        chunk.append(row)
    if chunk:
        yield chunk


def _prefetched(chunks: Iterator, depth: int = 2) -> Iterator:
    """Parse the next batch in a thread while PostgreSQL applies this one (the wait releases the GIL)."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop, done = threading.Event(), object()

    def hand_over(item) -> None:
        while not stop.is_set():
            try:
                return buffer.put(item, timeout=0.5)
            except queue.Full:
                continue

    def produce() -> None:
        try:
            for chunk in chunks:
                if stop.is_set():
                    return
                hand_over(chunk)
        except BaseException as exc:  # raised again in the consumer
            hand_over(exc)
        hand_over(done)

    threading.Thread(target=produce, daemon=True, name="ercot-parse").start()
    try:
        while (item := buffer.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()  # the consumer failed or stopped early: let the producer end


def _load_postgres(records, *, tdsp: str, posted_at: datetime, ingest_id: int | None) -> int:
    """Parsed rows in batches: COPY each into the staging table, upsert, empty it."""
    total = 0
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS ercot_stage")
        cursor.execute(f"CREATE TEMP TABLE ercot_stage ({_STAGE_DDL}) ON COMMIT DROP")
        for chunk in _prefetched(_csv_chunks(records)):
            with cursor.cursor.copy("COPY ercot_stage FROM STDIN (FORMAT csv)") as copy:
                copy.write(chunk)
            cursor.execute(_UPSERT, [tdsp, posted_at, ingest_id])
            total += cursor.rowcount
            cursor.execute("TRUNCATE ercot_stage")
        cursor.execute("DROP TABLE ercot_stage")
    return total


def _csv_chunks(records) -> Iterator[str]:
    for chunk in _chunks(records):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(chunk)
        yield buffer.getvalue()


def _load_generic(records, *, tdsp: str, posted_at: datetime, ingest_id: int | None) -> int:
    """SQLite: the same rule with executemany; fine for development-sized extracts."""
    columns = [*extract.COLUMNS, "tdsp", "posted_at", "ingest_id"]
    sql = (
        f"INSERT INTO ercot_esiid_record AS cur ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT (esiid) DO UPDATE SET {_UPDATE.replace('EXCLUDED', 'excluded')} WHERE cur.posted_at <= excluded.posted_at"
    )
    stamp = connection.ops.adapt_datetimefield_value(posted_at)
    total = 0
    with connection.cursor() as cursor:
        for chunk in _chunks(records, 5000):
            cursor.executemany(sql, [(*row, tdsp, stamp, ingest_id) for row in chunk])
            # SQLite counts the rows changed: an upsert skipped by its WHERE (an older posting) is not one.
            total += cursor.rowcount
    return total


def esiid_warnings(esiids: Iterable[str]) -> list[dict]:
    """`[{esiid, problem}]` for ESIIDs unknown to the extract or not Active.

    Nothing is reported while the master table is empty (no extract loaded yet): every ESIID
    would look unknown.
    """
    wanted = sorted({e for e in esiids if e})
    if not wanted or not EsiidRecord.objects.exists():
        return []
    known = dict(EsiidRecord.objects.filter(esiid__in=wanted).values_list("esiid", "status"))
    warnings = []
    for esiid in wanted:
        if esiid not in known:
            warnings.append({"esiid": esiid, "problem": "unknown to the ERCOT ESIID extract"})
        elif known[esiid] != "Active":
            warnings.append({"esiid": esiid, "problem": f"status {known[esiid] or 'empty'} in the ERCOT ESIID extract"})
    return warnings
