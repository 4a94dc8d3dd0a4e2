"""The ESIID master table: extract rows into EsiidRecord, and checks other apps ask of it.

Per ESIID the record from the latest posting wins (`posted_at`), so FUL and DAILY files give the
same table in any load order. On PostgreSQL a clean extract goes through a staging table by
COPY, PostgreSQL's own CSV parser doing the work; a file COPY refuses (a legacy 19-column or
malformed row, a bad ESIID) takes the row-by-row path, which reports each refused line.
"""

import csv
import io
import logging
import queue
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import BinaryIO

import psycopg
from django.db import DataError, IntegrityError, connection, transaction

from ercot import extract
from ercot.models import EsiidRecord

log = logging.getLogger(__name__)
CHUNK_ROWS = 100_000
COPY_CHUNK = 1 << 20


def esiid_csv_load(*, fileobj: BinaryIO, member: str, errors: extract.RowErrors, tdsp: str, posted_at: datetime,
                   ingest_id: int | None) -> int:
    """Load one extract CSV (a zip member); returns how many records were written."""
    if connection.vendor == "postgresql":
        try:
            with transaction.atomic():
                written = _copy_load(fileobj, tdsp=tdsp, posted_at=posted_at, ingest_id=ingest_id)
            log.info("ERCOT %s: %s records written via COPY", member, written)
            return written
        except (DataError, IntegrityError, psycopg.DataError, psycopg.IntegrityError) as exc:
            log.info("ERCOT %s: COPY refused the file (%s); loading row by row", member, str(exc).splitlines()[0])
            fileobj.seek(0)
    written = esiid_records_load(records=extract.iter_records(fileobj, errors, member), tdsp=tdsp, posted_at=posted_at,
                                 ingest_id=ingest_id)
    log.info("ERCOT %s: %s records written row by row, %s rows refused", member, written, errors.count)
    return written


_STAGE_DDL = ", ".join(f"{c} text" for c in extract.COLUMNS)
# COPY's CSV format reads an unquoted empty field as NULL; the record keeps "".
_VALUES = ", ".join(f"coalesce({c}, '')" for c in extract.COLUMNS)
_UPDATE = ", ".join(f"{c} = EXCLUDED.{c}" for c in [*extract.COLUMNS[1:], "tdsp", "posted_at", "ingest_id"])
_UPSERT = (
    f"INSERT INTO ercot_esiid_record AS cur ({', '.join(extract.COLUMNS)}, tdsp, posted_at, ingest_id) "
    f"SELECT {_VALUES}, %s, %s, %s FROM ercot_stage "
    f"ON CONFLICT (esiid) DO UPDATE SET {_UPDATE} WHERE cur.posted_at <= EXCLUDED.posted_at"
)


_ESIID_CHECK = "CHECK (esiid ~ '^[0-9]{17}([0-9]{5})?$')"


def _copy_load(fileobj: BinaryIO, *, tdsp: str, posted_at: datetime, ingest_id: int | None) -> int:
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS ercot_stage")
        # The CHECK validates ESIIDs during COPY itself, saving a scan of millions of rows.
        others = ", ".join(f"{c} text" for c in extract.COLUMNS[1:])
        cursor.execute(f"CREATE TEMP TABLE ercot_stage (esiid text NOT NULL {_ESIID_CHECK}, {others}, "
                       "seq bigint GENERATED ALWAYS AS IDENTITY) ON COMMIT DROP")
        # A wrong field count, a bad ESIID or bad encoding fails COPY: the savepoint rolls back and
        # the row-by-row path names the line.
        with cursor.cursor.copy(f"COPY ercot_stage ({', '.join(extract.COLUMNS)}) FROM STDIN (FORMAT csv)") as copy:
            while chunk := fileobj.read(COPY_CHUNK):
                copy.write(chunk)
        # Repeated ESIIDs (Oncor's FUL file has one): the last row wins; ON CONFLICT may touch a row once.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(
            "DELETE FROM ercot_stage s USING (SELECT esiid, max(seq) AS last FROM ercot_stage GROUP BY esiid "
            "HAVING count(*) > 1) d WHERE s.esiid = d.esiid AND s.seq < d.last"
        )
        cursor.execute(_UPSERT, [tdsp, posted_at, ingest_id])
        written = cursor.rowcount
        cursor.execute("DROP TABLE ercot_stage")
    return written


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
            total += len(chunk)
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
